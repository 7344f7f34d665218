//! The four kinds of progressive scan (T.81 G.1.2): DC first and refinement, AC first and
//! refinement, each decoding one block's share of coefficients into the coefficient buffer.

use super::huffman::{BitReader, HuffmanTable};
use super::{JpegError, ZIGZAG};

/// Per-scan state of a progressive decode.
pub(crate) struct Progressive {
    pub ss: usize,
    pub se: usize,
    pub al: u8,
    /// Blocks still to skip in the current end-of-band run.
    pub eob_run: u32,
}

impl Progressive {
    pub fn dc_first(
        &self,
        reader: &mut BitReader<'_>,
        table: &HuffmanTable,
        block: &mut [i16],
        pred: &mut i32,
    ) -> Result<(), JpegError> {
        let s = reader.decode(table)?;
        *pred = pred.wrapping_add(reader.receive_extend(u32::from(s)));
        block[0] = pred.wrapping_shl(u32::from(self.al)) as i16;
        reader.check_not_exhausted()
    }

    pub fn dc_refine(
        &self,
        reader: &mut BitReader<'_>,
        block: &mut [i16],
    ) -> Result<(), JpegError> {
        if reader.bit() {
            block[0] |= (1i32 << self.al) as i16;
        }
        reader.check_not_exhausted()
    }

    pub fn ac_first(
        &mut self,
        reader: &mut BitReader<'_>,
        table: &HuffmanTable,
        block: &mut [i16],
    ) -> Result<(), JpegError> {
        if self.eob_run > 0 {
            self.eob_run -= 1;
            return Ok(());
        }
        let mut k = self.ss;
        while k <= self.se {
            let rs = reader.decode(table)?;
            let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
            if s == 0 {
                if r < 15 {
                    self.eob_run = (1 << r) + reader.bits(r) - 1;
                    break;
                }
                k += 16;
                continue;
            }
            k += r as usize;
            if k > self.se {
                return Err(reader.corrupt("coefficient index past the spectral band"));
            }
            block[ZIGZAG[k]] = reader.receive_extend(s).wrapping_shl(u32::from(self.al)) as i16;
            k += 1;
        }
        reader.check_not_exhausted()
    }

    /// Successive approximation of AC coefficients: one correction bit for each coefficient that
    /// is already non-zero, and new coefficients of magnitude `1 << al`.
    pub fn ac_refine(
        &mut self,
        reader: &mut BitReader<'_>,
        table: &HuffmanTable,
        block: &mut [i16],
    ) -> Result<(), JpegError> {
        let p1 = 1i32 << self.al;
        let mut k = self.ss;
        if self.eob_run == 0 {
            while k <= self.se {
                let rs = reader.decode(table)?;
                let (mut r, s) = (i32::from(rs >> 4), rs & 15);
                let mut new_value = 0;
                if s != 0 {
                    if s != 1 {
                        return Err(reader.corrupt("refinement coefficient of size other than 1"));
                    }
                    new_value = if reader.bit() { p1 } else { -p1 };
                } else if r != 15 {
                    self.eob_run = (1 << r) + reader.bits(r as u32);
                    break;
                }
                // Skip r zero coefficients (refining the non-zero ones passed on the way), then
                // place the new one on the next zero.
                while k <= self.se {
                    let c = &mut block[ZIGZAG[k]];
                    if *c != 0 {
                        refine(reader, c, p1);
                    } else {
                        if r == 0 {
                            break;
                        }
                        r -= 1;
                    }
                    k += 1;
                }
                if new_value != 0 {
                    if k > self.se {
                        return Err(reader.corrupt("coefficient index past the spectral band"));
                    }
                    block[ZIGZAG[k]] = new_value as i16;
                }
                k += 1;
            }
        }
        if self.eob_run > 0 {
            while k <= self.se {
                let c = &mut block[ZIGZAG[k]];
                if *c != 0 {
                    refine(reader, c, p1);
                }
                k += 1;
            }
            self.eob_run -= 1;
        }
        reader.check_not_exhausted()
    }
}

/// Adds a correction bit to a coefficient that is already non-zero, away from zero.
#[inline]
fn refine(reader: &mut BitReader<'_>, c: &mut i16, p1: i32) {
    if reader.bit() && (i32::from(*c) & p1) == 0 {
        let step = if *c >= 0 { p1 } else { -p1 };
        *c = (i32::from(*c) + step) as i16;
    }
}
