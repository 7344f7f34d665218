//! A JPEG decoder whose pixels equal those of libjpeg-turbo with its default settings, which is
//! what browsers (and so face-api.js in a browser) see: the accurate integer IDCT, "fancy"
//! chroma upsampling and libjpeg's fixed-point YCbCr to RGB.
//!
//! Baseline, extended sequential and progressive Huffman-coded 8-bit images with 1 (grey) or 3
//! components, any integral sampling factors, restart intervals. Truncated or corrupt entropy
//! data is an error, where libjpeg would warn and fill the rest with grey. What it does not
//! reproduce is reported as [`JpegError::Unsupported`] so that the caller can use another
//! decoder: CMYK/YCCK, 12-bit, arithmetic coding, lossless and hierarchical modes, and
//! progressive images whose coefficients are never fully refined (libjpeg smooths those).
//!
//! One stage a file: `markers` (segments), `huffman` (tables, bit reader, sequential blocks),
//! `progressive`, `idct`, `upsample`, `color`.

mod color;
mod huffman;
mod idct;
mod markers;
mod progressive;
mod upsample;

use huffman::{BitReader, HuffmanTable};
use markers::{ComponentSpec, FrameHeader, MarkerReader, ScanHeader};
use progressive::Progressive;
use upsample::Method;

/// Natural (row-major) index of each zigzag position.
pub(crate) const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JpegError {
    /// Not a well-formed, complete JPEG stream.
    Invalid(String),
    /// Well formed, but outside what this decoder reproduces exactly.
    Unsupported(String),
}

impl JpegError {
    fn invalid(reason: &str) -> Self {
        Self::Invalid(reason.to_owned())
    }
}

impl std::fmt::Display for JpegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Invalid(reason) => write!(f, "{reason}"),
            Self::Unsupported(what) => write!(f, "unsupported JPEG: {what}"),
        }
    }
}

/// What the headers say, read without decoding anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct JpegInfo {
    pub width: u32,
    pub height: u32,
    /// EXIF orientation, 1..=8.
    pub orientation: Option<u8>,
}

/// The frame size and EXIF orientation, from the markers before the first scan.
pub(crate) fn read_info(bytes: &[u8]) -> Result<JpegInfo, JpegError> {
    let mut reader = start(bytes)?;
    let mut orientation = None;
    loop {
        let marker = reader
            .next_marker()
            .ok_or_else(|| JpegError::invalid("no frame header"))?;
        match marker {
            markers::SOS | markers::EOI => return Err(JpegError::invalid("no frame header")),
            0xD0..=0xD7 | 0x01 => {}
            _ => {
                let payload = reader.segment()?;
                if marker == markers::APP1 && orientation.is_none() {
                    orientation = markers::exif_orientation(payload);
                }
                if is_sof(marker) {
                    check_sof_kind(marker)?;
                    let frame = markers::parse_frame(marker, payload)?;
                    return Ok(JpegInfo {
                        width: frame.width,
                        height: frame.height,
                        orientation,
                    });
                }
            }
        }
    }
}

/// A decoded image: `width * height` RGB pixels, not yet oriented.
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub pixels: Vec<u8>,
}

/// Decodes the whole file. The caller checks the size from [`read_info`] first.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded, JpegError> {
    let mut decoder = Decoder::new(bytes)?;
    decoder.run()?;
    decoder.finish()
}

fn start(bytes: &[u8]) -> Result<MarkerReader<'_>, JpegError> {
    if bytes.len() < 2 || bytes[0] != 0xFF || bytes[1] != markers::SOI {
        return Err(JpegError::invalid("no JPEG start-of-image marker"));
    }
    let mut reader = MarkerReader::new(bytes);
    reader.pos = 2;
    Ok(reader)
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xCF) && !matches!(marker, markers::DHT | 0xC8 | 0xCC)
}

fn check_sof_kind(marker: u8) -> Result<(), JpegError> {
    match marker {
        markers::SOF_BASELINE | markers::SOF_EXTENDED | markers::SOF_PROGRESSIVE => Ok(()),
        0xC3 | 0xCB => Err(JpegError::Unsupported("lossless mode".into())),
        0xC9..=0xCF => Err(JpegError::Unsupported("arithmetic coding".into())),
        _ => Err(JpegError::Unsupported("hierarchical mode".into())),
    }
}

/// One component of the frame and everything decoded for it so far.
struct Component {
    spec: ComponentSpec,
    /// Samples in the component's own resolution (libjpeg's `downsampled_width/height`).
    width: usize,
    height: usize,
    /// Blocks allocated per row (whole MCUs; as many rows of blocks as whole MCUs hold).
    blocks_w: usize,
    /// Latched when the component's first scan starts, as libjpeg does.
    quant: Option<[u16; 64]>,
    /// Samples, `blocks_w * 8` wide.
    plane: Vec<u8>,
    /// Progressive only: every block's coefficients, natural order.
    coefficients: Vec<i16>,
    /// Progressive only: the point transform of the last scan of each coefficient, -1 before
    /// any (libjpeg's `coef_bits`).
    coef_bits: [i8; 64],
    scanned: bool,
}

impl Component {
    fn stride(&self) -> usize {
        self.blocks_w * 8
    }
}

struct Frame {
    header: FrameHeader,
    components: Vec<Component>,
    h_max: usize,
    v_max: usize,
    mcus_x: usize,
    mcus_y: usize,
}

impl Frame {
    fn new(header: FrameHeader) -> Result<Self, JpegError> {
        if !matches!(header.components.len(), 1 | 3) {
            return Err(JpegError::Unsupported(format!(
                "{} colour components",
                header.components.len()
            )));
        }
        let h_max = header.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v_max = header.components.iter().map(|c| c.v).max().unwrap_or(1);
        let (width, height) = (header.width as usize, header.height as usize);
        let mcus_x = width.div_ceil(8 * h_max);
        let mcus_y = height.div_ceil(8 * v_max);
        let components = header
            .components
            .iter()
            .map(|&spec| {
                let (blocks_w, blocks_h) = (mcus_x * spec.h, mcus_y * spec.v);
                let blocks = if header.progressive {
                    blocks_w * blocks_h
                } else {
                    0
                };
                Component {
                    spec,
                    width: (width * spec.h).div_ceil(h_max),
                    height: (height * spec.v).div_ceil(v_max),
                    blocks_w,
                    quant: None,
                    plane: vec![0; blocks_w * blocks_h * 64],
                    coefficients: vec![0; blocks * 64],
                    coef_bits: [-1; 64],
                    scanned: false,
                }
            })
            .collect();
        Ok(Self {
            header,
            components,
            h_max,
            v_max,
            mcus_x,
            mcus_y,
        })
    }
}

/// What one block of the current scan does.
enum ScanKind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

struct Decoder<'a> {
    markers: MarkerReader<'a>,
    quant: [Option<[u16; 64]>; 4],
    dc_tables: [Option<HuffmanTable>; 4],
    ac_tables: [Option<HuffmanTable>; 4],
    restart_interval: usize,
    frame: Option<Frame>,
    jfif: bool,
    adobe_transform: Option<u8>,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, JpegError> {
        Ok(Self {
            markers: start(bytes)?,
            quant: [None; 4],
            dc_tables: [None, None, None, None],
            ac_tables: [None, None, None, None],
            restart_interval: 0,
            frame: None,
            jfif: false,
            adobe_transform: None,
        })
    }

    /// Reads markers and scans up to the end-of-image marker, which must be there.
    fn run(&mut self) -> Result<(), JpegError> {
        loop {
            let marker = self.markers.next_marker().ok_or_else(|| {
                JpegError::invalid("file ends before the end-of-image marker (truncated)")
            })?;
            match marker {
                markers::EOI => return Ok(()),
                0xD0..=0xD7 | 0x01 => {}
                markers::SOS => {
                    let frame = self
                        .frame
                        .as_ref()
                        .ok_or_else(|| JpegError::invalid("scan before the frame header"))?;
                    let scan = markers::parse_scan(self.markers.segment()?, &frame.header)?;
                    self.markers.pos = self.decode_scan(&scan)?;
                }
                markers::DNL => return Err(JpegError::Unsupported("DNL marker".into())),
                _ => self.segment(marker)?,
            }
        }
    }

    fn segment(&mut self, marker: u8) -> Result<(), JpegError> {
        let payload = self.markers.segment()?;
        match marker {
            markers::DQT => markers::parse_quant_tables(payload, &mut self.quant)?,
            markers::DHT => {
                markers::parse_huffman_tables(payload, &mut self.dc_tables, &mut self.ac_tables)?
            }
            markers::DRI => self.restart_interval = markers::parse_restart_interval(payload)?,
            markers::APP0 => self.jfif |= markers::is_jfif(payload),
            markers::APP14 => {
                if let Some(t) = markers::adobe_transform(payload) {
                    self.adobe_transform = Some(t);
                }
            }
            m if is_sof(m) => {
                check_sof_kind(m)?;
                if self.frame.is_some() {
                    return Err(JpegError::invalid("second frame header"));
                }
                self.frame = Some(Frame::new(markers::parse_frame(m, payload)?)?);
            }
            0xE0..=0xEF | 0xFE => {}
            m => return Err(JpegError::Invalid(format!("unexpected marker 0xFF{m:02X}"))),
        }
        Ok(())
    }

    /// Decodes one scan starting at the current position; returns where the next marker is.
    fn decode_scan(&mut self, scan: &ScanHeader) -> Result<usize, JpegError> {
        let Some(frame) = self.frame.as_mut() else {
            return Err(JpegError::invalid("scan before the frame header"));
        };
        let kind = match (frame.header.progressive, scan.ss, scan.ah) {
            (false, _, _) => ScanKind::Sequential,
            (true, 0, 0) => ScanKind::DcFirst,
            (true, 0, _) => ScanKind::DcRefine,
            (true, _, 0) => ScanKind::AcFirst,
            (true, _, _) => ScanKind::AcRefine,
        };
        for sc in &scan.components {
            let component = &mut frame.components[sc.index];
            if component.quant.is_none() {
                let slot = component.spec.quant_table;
                component.quant = Some(self.quant[slot].ok_or_else(|| {
                    JpegError::Invalid(format!("quantisation table {slot} is not defined"))
                })?);
            }
            if !frame.header.progressive && component.scanned {
                return Err(JpegError::invalid(
                    "a component appears in two sequential scans",
                ));
            }
            component.scanned = true;
            if frame.header.progressive {
                for k in scan.ss..=scan.se {
                    component.coef_bits[k] = scan.al as i8;
                }
            }
            let needs_dc = matches!(kind, ScanKind::Sequential | ScanKind::DcFirst);
            let needs_ac = matches!(
                kind,
                ScanKind::Sequential | ScanKind::AcFirst | ScanKind::AcRefine
            );
            if (needs_dc && self.dc_tables[sc.dc_table].is_none())
                || (needs_ac && self.ac_tables[sc.ac_table].is_none())
            {
                return Err(JpegError::invalid("scan uses an undefined Huffman table"));
            }
        }
        let mut scan_decoder = ScanDecoder {
            reader: BitReader::new(self.markers.data, self.markers.pos),
            kind,
            progressive: Progressive {
                ss: scan.ss,
                se: scan.se,
                al: scan.al,
                eob_run: 0,
            },
            dc_tables: &self.dc_tables,
            ac_tables: &self.ac_tables,
            predictors: [0; 4],
            block: [0; 64],
        };
        scan_decoder.run(frame, scan, self.restart_interval)?;
        Ok(scan_decoder.reader.marker_position())
    }

    fn finish(self) -> Result<Decoded, JpegError> {
        let mut frame = self
            .frame
            .ok_or_else(|| JpegError::invalid("no frame header"))?;
        if frame.header.progressive {
            if needs_block_smoothing(&frame.components) {
                return Err(JpegError::Unsupported(
                    "progressive image whose coefficients are never fully refined".into(),
                ));
            }
            for component in &mut frame.components {
                inverse_transform_all(component);
            }
        } else if let Some(c) = frame.components.iter().find(|c| !c.scanned) {
            return Err(JpegError::Invalid(format!(
                "component {} has no scan (truncated file)",
                c.spec.id
            )));
        }
        let rgb = match frame.components.len() {
            1 => ColorSpace::Gray,
            _ if self.jfif => ColorSpace::YCbCr,
            _ => match self.adobe_transform {
                Some(0) => ColorSpace::Rgb,
                Some(_) => ColorSpace::YCbCr,
                None => {
                    let ids: Vec<u8> = frame.components.iter().map(|c| c.spec.id).collect();
                    if ids == b"RGB" {
                        ColorSpace::Rgb
                    } else {
                        ColorSpace::YCbCr
                    }
                }
            },
        };
        let pixels = to_rgb(&frame, rgb)?;
        Ok(Decoded {
            width: frame.header.width,
            height: frame.header.height,
            pixels,
        })
    }
}

/// The state of one scan while its MCUs are decoded.
struct ScanDecoder<'a, 't> {
    reader: BitReader<'a>,
    kind: ScanKind,
    progressive: Progressive,
    dc_tables: &'t [Option<HuffmanTable>; 4],
    ac_tables: &'t [Option<HuffmanTable>; 4],
    predictors: [i32; 4],
    /// One block of a sequential scan, zeroed after each use.
    block: [i16; 64],
}

impl ScanDecoder<'_, '_> {
    fn run(
        &mut self,
        frame: &mut Frame,
        scan: &ScanHeader,
        restart_interval: usize,
    ) -> Result<(), JpegError> {
        let single = scan.components.len() == 1;
        let (mcus_x, mcus_y) = if single {
            let c = &frame.components[scan.components[0].index];
            (c.width.div_ceil(8), c.height.div_ceil(8))
        } else {
            (frame.mcus_x, frame.mcus_y)
        };
        let mut next_restart = 0;
        for mcu in 0..mcus_x * mcus_y {
            if restart_interval > 0 && mcu > 0 && mcu % restart_interval == 0 {
                self.reader.restart(next_restart)?;
                next_restart = (next_restart + 1) % 8;
                self.predictors = [0; 4];
                self.progressive.eob_run = 0;
            }
            let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
            for (i, sc) in scan.components.iter().enumerate() {
                let component = &mut frame.components[sc.index];
                if single {
                    self.block(component, sc, i, mx, my)?;
                    continue;
                }
                let (h, v) = (component.spec.h, component.spec.v);
                for by in my * v..(my + 1) * v {
                    for bx in mx * h..(mx + 1) * h {
                        self.block(component, sc, i, bx, by)?;
                    }
                }
            }
        }
        Ok(())
    }

    #[inline]
    fn block(
        &mut self,
        component: &mut Component,
        sc: &markers::ScanComponent,
        i: usize,
        bx: usize,
        by: usize,
    ) -> Result<(), JpegError> {
        let dc = self.dc_tables[sc.dc_table].as_ref();
        let ac = self.ac_tables[sc.ac_table].as_ref();
        let missing = || JpegError::invalid("scan uses an undefined Huffman table");
        if let ScanKind::Sequential = self.kind {
            let block = &mut self.block;
            let any_ac = huffman::decode_sequential_block(
                &mut self.reader,
                dc.ok_or_else(missing)?,
                ac.ok_or_else(missing)?,
                block,
                &mut self.predictors[i],
            )?;
            let stride = component.stride();
            let quant = component.quant.as_ref().ok_or_else(missing)?;
            let offset = by * 8 * stride + bx * 8;
            idct::idct_islow(
                block,
                quant,
                &mut component.plane[offset..],
                stride,
                !any_ac,
            );
            *block = [0; 64];
            return Ok(());
        }
        let index = (by * component.blocks_w + bx) * 64;
        let block = &mut component.coefficients[index..index + 64];
        let p = &mut self.progressive;
        match self.kind {
            ScanKind::DcFirst => p.dc_first(
                &mut self.reader,
                dc.ok_or_else(missing)?,
                block,
                &mut self.predictors[i],
            ),
            ScanKind::DcRefine => p.dc_refine(&mut self.reader, block),
            ScanKind::AcFirst => p.ac_first(&mut self.reader, ac.ok_or_else(missing)?, block),
            ScanKind::AcRefine => p.ac_refine(&mut self.reader, ac.ok_or_else(missing)?, block),
            ScanKind::Sequential => Ok(()),
        }
    }
}

/// libjpeg's `smoothing_ok`: when some of the first AC coefficients of a progressive image were
/// never fully refined, libjpeg interpolates them from the neighbouring blocks' DC values.
fn needs_block_smoothing(components: &[Component]) -> bool {
    let mut useful = false;
    for c in components {
        let Some(quant) = c.quant else {
            return false;
        };
        if ZIGZAG[..10].iter().any(|&k| quant[k] == 0) || c.coef_bits[0] < 0 {
            return false;
        }
        useful |= c.coef_bits[1..10].iter().any(|&b| b != 0);
    }
    useful
}

fn inverse_transform_all(component: &mut Component) {
    let quant = component.quant.unwrap_or([0; 64]);
    let stride = component.stride();
    for by in 0..component.height.div_ceil(8) {
        for bx in 0..component.width.div_ceil(8) {
            let index = (by * component.blocks_w + bx) * 64;
            let block: &[i16; 64] = component.coefficients[index..index + 64]
                .try_into()
                .unwrap_or(&[0; 64]);
            let offset = by * 8 * stride + bx * 8;
            let dc_only = block[1..].iter().all(|&c| c == 0);
            idct::idct_islow(
                block,
                &quant,
                &mut component.plane[offset..],
                stride,
                dc_only,
            );
        }
    }
    component.coefficients = Vec::new();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColorSpace {
    Gray,
    YCbCr,
    Rgb,
}

/// Upsamples every component to the frame size and converts to interleaved RGB.
fn to_rgb(frame: &Frame, space: ColorSpace) -> Result<Vec<u8>, JpegError> {
    let (width, height) = (frame.header.width as usize, frame.header.height as usize);
    let mut methods = [Method::Full; 3];
    let mut buffers: [Vec<u8>; 3] = Default::default();
    for ((c, method), buffer) in frame.components.iter().zip(&mut methods).zip(&mut buffers) {
        let (h, v) = (c.spec.h, c.spec.v);
        if !frame.h_max.is_multiple_of(h) || !frame.v_max.is_multiple_of(v) {
            return Err(JpegError::Unsupported(format!(
                "non-integral sampling ratio {}x{} to {h}x{v}",
                frame.h_max, frame.v_max
            )));
        }
        *method = Method::choose(frame.h_max / h, frame.v_max / v, c.width);
        *buffer = vec![0u8; c.width * frame.h_max / h];
    }
    let mut out = vec![0u8; width * height * 3];
    #[cfg(target_arch = "x86_64")]
    if avx2_available() {
        // SAFETY: the CPU has AVX2 (checked just above).
        unsafe { convert_avx2(frame, &methods, space, &mut buffers, &mut out) };
        return Ok(out);
    }
    convert::<false>(frame, &methods, space, &mut buffers, &mut out);
    Ok(out)
}

/// Whether to run the AVX2 builds of the IDCT and the colour stage (not when
/// `FACEGATE_FACE_PORTABLE` asks for the portable kernels).
#[cfg(target_arch = "x86_64")]
fn avx2_available() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::env::var_os(crate::kernels::PORTABLE_ENV).is_none() && is_x86_feature_detected!("avx2")
    })
}

/// [`convert`] compiled for AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn convert_avx2(
    frame: &Frame,
    methods: &[Method; 3],
    space: ColorSpace,
    buffers: &mut [Vec<u8>; 3],
    out: &mut [u8],
) {
    convert::<true>(frame, methods, space, buffers, out);
}

/// `AVX2` may be true only on a CPU that has it.
#[inline(always)]
fn convert<const AVX2: bool>(
    frame: &Frame,
    methods: &[Method; 3],
    space: ColorSpace,
    buffers: &mut [Vec<u8>; 3],
    out: &mut [u8],
) {
    let width = frame.header.width as usize;
    let c = &frame.components;
    let [b0, b1, b2] = buffers;
    for (y, out_row) in out.chunks_exact_mut(width * 3).enumerate() {
        if space == ColorSpace::Gray {
            color::gray_row(&component_row(&c[0], methods[0], y, b0)[..width], out_row);
            continue;
        }
        let r0 = &component_row(&c[0], methods[0], y, b0)[..width];
        let r1 = &component_row(&c[1], methods[1], y, b1)[..width];
        let r2 = &component_row(&c[2], methods[2], y, b2)[..width];
        if space == ColorSpace::Rgb {
            color::rgb_row(r0, r1, r2, out_row);
        } else {
            color::ycc_row::<AVX2>(r0, r1, r2, out_row);
        }
    }
}

/// Row `y` of the image for one component, at full resolution.
#[inline(always)]
fn component_row<'b>(c: &'b Component, method: Method, y: usize, buf: &'b mut [u8]) -> &'b [u8] {
    let stride = c.stride();
    let row = |r: usize| &c.plane[r * stride..r * stride + c.width];
    // The next nearest input row for vertical filtering: above for even output rows, below for
    // odd ones, the edge row repeated.
    let far = |r: usize| {
        if y.is_multiple_of(2) {
            r.saturating_sub(1)
        } else {
            (r + 1).min(c.height - 1)
        }
    };
    match method {
        Method::Full => return row(y),
        Method::H2Fancy => upsample::h2_fancy(row(y), buf),
        Method::V2Fancy => upsample::v2_fancy(row(y / 2), row(far(y / 2)), y % 2 == 1, buf),
        Method::H2V2Fancy => upsample::h2v2_fancy(row(y / 2), row(far(y / 2)), buf),
        Method::Replicate { h, v } => upsample::replicate(row(y / v), h, buf),
    }
    buf
}
