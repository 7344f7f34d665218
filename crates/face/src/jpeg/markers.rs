//! The marker segments of a JPEG stream (ITU-T T.81 annex B): frame and scan headers,
//! quantisation and Huffman tables, restart interval, and the application markers that decide
//! the colour space (JFIF, Adobe) and the orientation (EXIF).

use super::huffman::HuffmanTable;
use super::{JpegError, ZIGZAG};

pub(crate) const SOI: u8 = 0xD8;
pub(crate) const EOI: u8 = 0xD9;
pub(crate) const SOS: u8 = 0xDA;
pub(crate) const DQT: u8 = 0xDB;
pub(crate) const DNL: u8 = 0xDC;
pub(crate) const DRI: u8 = 0xDD;
pub(crate) const DHT: u8 = 0xC4;
pub(crate) const SOF_BASELINE: u8 = 0xC0;
pub(crate) const SOF_EXTENDED: u8 = 0xC1;
pub(crate) const SOF_PROGRESSIVE: u8 = 0xC2;
pub(crate) const RST0: u8 = 0xD0;
pub(crate) const APP0: u8 = 0xE0;
pub(crate) const APP1: u8 = 0xE1;
pub(crate) const APP14: u8 = 0xEE;

/// One component as the frame header declares it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ComponentSpec {
    pub id: u8,
    pub h: usize,
    pub v: usize,
    pub quant_table: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct FrameHeader {
    pub progressive: bool,
    pub width: u32,
    pub height: u32,
    pub components: Vec<ComponentSpec>,
}

/// One component of a scan: its index in the frame and its Huffman table slots.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScanComponent {
    pub index: usize,
    pub dc_table: usize,
    pub ac_table: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct ScanHeader {
    pub components: Vec<ScanComponent>,
    /// Spectral selection start and end, zigzag indices.
    pub ss: usize,
    pub se: usize,
    /// Successive approximation: previous and current point transform.
    pub ah: u8,
    pub al: u8,
}

/// A cursor over the whole file for the parts between entropy-coded segments.
pub(crate) struct MarkerReader<'a> {
    pub data: &'a [u8],
    pub pos: usize,
}

impl<'a> MarkerReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, pos: 0 }
    }

    /// The next marker code. Bytes before it that are not a marker are skipped, as libjpeg does
    /// (with a warning); fill bytes (0xFF runs) are allowed. `None` at the end of the data.
    pub fn next_marker(&mut self) -> Option<u8> {
        loop {
            let start = self.pos + self.data.get(self.pos..)?.iter().position(|&b| b == 0xFF)?;
            let mut i = start;
            while self.data.get(i) == Some(&0xFF) {
                i += 1;
            }
            let code = *self.data.get(i)?;
            self.pos = i + 1;
            if code != 0 {
                return Some(code);
            }
        }
    }

    /// The payload of the segment that follows a marker (after its 2-byte length).
    pub fn segment(&mut self) -> Result<&'a [u8], JpegError> {
        let len_bytes = self
            .data
            .get(self.pos..self.pos + 2)
            .ok_or_else(|| JpegError::invalid("file ends inside a marker segment"))?;
        let len = usize::from(u16::from_be_bytes([len_bytes[0], len_bytes[1]]));
        if len < 2 {
            return Err(JpegError::invalid(
                "marker segment shorter than its length field",
            ));
        }
        let payload = self
            .data
            .get(self.pos + 2..self.pos + len)
            .ok_or_else(|| JpegError::invalid("file ends inside a marker segment"))?;
        self.pos += len;
        Ok(payload)
    }
}

/// A bounds-checked reader over one segment's payload.
struct Payload<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Payload<'a> {
    fn new(bytes: &'a [u8], what: &'static str) -> Self {
        Self {
            bytes,
            pos: 0,
            what,
        }
    }
    fn u8(&mut self) -> Result<u8, JpegError> {
        let b = *self
            .bytes
            .get(self.pos)
            .ok_or_else(|| JpegError::Invalid(format!("{} segment is too short", self.what)))?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self) -> Result<u16, JpegError> {
        Ok(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], JpegError> {
        let s = self
            .bytes
            .get(self.pos..self.pos + n)
            .ok_or_else(|| JpegError::Invalid(format!("{} segment is too short", self.what)))?;
        self.pos += n;
        Ok(s)
    }
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }
}

pub(crate) fn parse_frame(marker: u8, payload: &[u8]) -> Result<FrameHeader, JpegError> {
    let mut p = Payload::new(payload, "SOF");
    let precision = p.u8()?;
    if precision != 8 {
        return Err(JpegError::Unsupported(format!("{precision}-bit samples")));
    }
    let height = u32::from(p.u16()?);
    let width = u32::from(p.u16()?);
    if height == 0 {
        return Err(JpegError::Unsupported(
            "height given by a DNL marker".into(),
        ));
    }
    if width == 0 {
        return Err(JpegError::invalid("frame width is 0"));
    }
    let count = usize::from(p.u8()?);
    if count == 0 || count > 4 {
        return Err(JpegError::Invalid(format!(
            "{count} components in the frame"
        )));
    }
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        let id = p.u8()?;
        let hv = p.u8()?;
        let quant_table = usize::from(p.u8()?);
        let (h, v) = (usize::from(hv >> 4), usize::from(hv & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || quant_table > 3 {
            return Err(JpegError::Invalid(format!(
                "component {id}: sampling {h}x{v}, quantisation table {quant_table}"
            )));
        }
        if components.iter().any(|c: &ComponentSpec| c.id == id) {
            return Err(JpegError::Invalid(format!(
                "component id {id} appears twice"
            )));
        }
        components.push(ComponentSpec {
            id,
            h,
            v,
            quant_table,
        });
    }
    Ok(FrameHeader {
        progressive: marker == SOF_PROGRESSIVE,
        width,
        height,
        components,
    })
}

pub(crate) fn parse_scan(payload: &[u8], frame: &FrameHeader) -> Result<ScanHeader, JpegError> {
    let mut p = Payload::new(payload, "SOS");
    let count = usize::from(p.u8()?);
    if count == 0 || count > 4 {
        return Err(JpegError::Invalid(format!("{count} components in a scan")));
    }
    let mut components = Vec::with_capacity(count);
    for _ in 0..count {
        let id = p.u8()?;
        let tables = p.u8()?;
        let index = frame
            .components
            .iter()
            .position(|c| c.id == id)
            .ok_or_else(|| JpegError::Invalid(format!("scan names unknown component {id}")))?;
        if components.iter().any(|c: &ScanComponent| c.index == index) {
            return Err(JpegError::Invalid(format!(
                "scan names component {id} twice"
            )));
        }
        let (dc_table, ac_table) = (usize::from(tables >> 4), usize::from(tables & 15));
        if dc_table > 3 || ac_table > 3 {
            return Err(JpegError::invalid("Huffman table slot above 3"));
        }
        components.push(ScanComponent {
            index,
            dc_table,
            ac_table,
        });
    }
    let ss = usize::from(p.u8()?);
    let se = usize::from(p.u8()?);
    let a = p.u8()?;
    let scan = ScanHeader {
        components,
        ss,
        se,
        ah: a >> 4,
        al: a & 15,
    };
    check_scan(&scan, frame)?;
    Ok(scan)
}

/// The checks libjpeg makes fatal (`JERR_BAD_PROGRESSION`, too many blocks in an MCU).
fn check_scan(scan: &ScanHeader, frame: &FrameHeader) -> Result<(), JpegError> {
    let blocks: usize = if scan.components.len() == 1 {
        1
    } else {
        scan.components
            .iter()
            .map(|c| frame.components[c.index].h * frame.components[c.index].v)
            .sum()
    };
    if blocks > 10 {
        return Err(JpegError::Invalid(format!(
            "{blocks} blocks in an MCU (at most 10)"
        )));
    }
    if frame.progressive {
        let bad = if scan.ss == 0 {
            scan.se != 0
        } else {
            scan.se < scan.ss || scan.se > 63 || scan.components.len() != 1
        };
        if bad || scan.al > 13 || (scan.ah != 0 && scan.ah != scan.al + 1) {
            return Err(JpegError::Invalid(format!(
                "bad progression: Ss={} Se={} Ah={} Al={}",
                scan.ss, scan.se, scan.ah, scan.al
            )));
        }
    }
    Ok(())
}

/// Stores every table of a DQT segment, in natural (row-major) order.
pub(crate) fn parse_quant_tables(
    payload: &[u8],
    tables: &mut [Option<[u16; 64]>; 4],
) -> Result<(), JpegError> {
    let mut p = Payload::new(payload, "DQT");
    while p.remaining() > 0 {
        let pq_tq = p.u8()?;
        let (precision, slot) = (pq_tq >> 4, usize::from(pq_tq & 15));
        if slot > 3 || precision > 1 {
            return Err(JpegError::Invalid(format!(
                "quantisation table {slot} with precision {precision}"
            )));
        }
        let mut table = [0u16; 64];
        for &natural in &ZIGZAG {
            table[natural] = if precision == 0 {
                u16::from(p.u8()?)
            } else {
                p.u16()?
            };
        }
        tables[slot] = Some(table);
    }
    Ok(())
}

/// Stores every table of a DHT segment.
pub(crate) fn parse_huffman_tables(
    payload: &[u8],
    dc: &mut [Option<HuffmanTable>; 4],
    ac: &mut [Option<HuffmanTable>; 4],
) -> Result<(), JpegError> {
    let mut p = Payload::new(payload, "DHT");
    while p.remaining() > 0 {
        let tc_th = p.u8()?;
        let (class, slot) = (tc_th >> 4, usize::from(tc_th & 15));
        if class > 1 || slot > 3 {
            return Err(JpegError::Invalid(format!(
                "Huffman table class {class} slot {slot}"
            )));
        }
        let mut counts = [0u8; 16];
        counts.copy_from_slice(p.take(16)?);
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let symbols = p.take(total)?;
        let table = HuffmanTable::new(&counts, symbols, class == 0)?;
        if class == 0 {
            dc[slot] = Some(table);
        } else {
            ac[slot] = Some(table);
        }
    }
    Ok(())
}

pub(crate) fn parse_restart_interval(payload: &[u8]) -> Result<usize, JpegError> {
    Ok(usize::from(Payload::new(payload, "DRI").u16()?))
}

pub(crate) fn is_jfif(payload: &[u8]) -> bool {
    payload.starts_with(b"JFIF\0")
}

/// The colour transform flag of an Adobe APP14 segment.
pub(crate) fn adobe_transform(payload: &[u8]) -> Option<u8> {
    (payload.len() >= 12 && payload.starts_with(b"Adobe")).then(|| payload[11])
}

/// The EXIF orientation (1..=8) of an APP1 segment, when it is an EXIF block that has one.
pub(crate) fn exif_orientation(payload: &[u8]) -> Option<u8> {
    let tiff = payload.strip_prefix(b"Exif\0\0")?;
    let big_endian = match tiff.get(..4)? {
        [b'M', b'M', 0, 42] => true,
        [b'I', b'I', 42, 0] => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at + 2)?;
        Some(if big_endian {
            u16::from_be_bytes([b[0], b[1]])
        } else {
            u16::from_le_bytes([b[0], b[1]])
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at + 4)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let entries = usize::from(u16_at(ifd)?);
    (0..entries).find_map(|i| {
        let entry = ifd + 2 + 12 * i;
        // Tag 0x0112 (Orientation), type SHORT, one value stored in the entry itself.
        (u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3)
            .then(|| u16_at(entry + 8))
            .flatten()
            .and_then(|v| u8::try_from(v).ok())
            .filter(|v| (1..=8).contains(v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exif(big_endian: bool, orientation: u16) -> Vec<u8> {
        let mut tiff: Vec<u8> = Vec::new();
        let put16 = |v: u16, out: &mut Vec<u8>| {
            out.extend(if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let put32 = |v: u32, out: &mut Vec<u8>| {
            out.extend(if big_endian {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        tiff.extend(if big_endian { b"MM" } else { b"II" });
        put16(42, &mut tiff);
        put32(8, &mut tiff);
        put16(2, &mut tiff);
        // An unrelated tag first (ImageWidth, LONG), then Orientation.
        put16(0x0100, &mut tiff);
        put16(4, &mut tiff);
        put32(1, &mut tiff);
        put32(640, &mut tiff);
        put16(0x0112, &mut tiff);
        put16(3, &mut tiff);
        put32(1, &mut tiff);
        put16(orientation, &mut tiff);
        put16(0, &mut tiff);
        put32(0, &mut tiff);
        let mut out = b"Exif\0\0".to_vec();
        out.extend(tiff);
        out
    }

    #[test]
    fn exif_orientation_is_read_in_both_byte_orders() {
        assert_eq!(exif_orientation(&exif(true, 6)), Some(6));
        assert_eq!(exif_orientation(&exif(false, 8)), Some(8));
        assert_eq!(exif_orientation(&exif(false, 9)), None);
        let full = exif(true, 3);
        assert_eq!(exif_orientation(&full[..full.len() - 12]), None);
        assert_eq!(exif_orientation(b"XMP stuff"), None);
    }

    #[test]
    fn next_marker_skips_fill_bytes_and_stray_data() {
        let data = [0x12, 0xFF, 0x00, 0xFF, 0xFF, 0xFF, 0xD9];
        let mut r = MarkerReader::new(&data);
        assert_eq!(r.next_marker(), Some(EOI));
        assert_eq!(r.next_marker(), None);
    }

    #[test]
    fn a_segment_longer_than_the_file_is_an_error() {
        let data = [0x00, 0x10, 1, 2, 3];
        assert!(MarkerReader::new(&data).segment().is_err());
    }
}
