//! Huffman tables, the bit reader over entropy-coded data, and the decoding of one sequential
//! (baseline or extended) block.
//!
//! Unlike libjpeg, which pads a truncated stream with zeros and carries on with a warning, the
//! reader remembers how many of its bits are padding: a block that needed them is an error, so a
//! cut or corrupt file is refused instead of being decoded into grey.

use super::{JpegError, ZIGZAG};

/// Codes up to this many bits are decoded with one table look-up.
const LOOKUP_BITS: u32 = 9;

/// A canonical Huffman table (T.81 annex C), with a look-up table for short codes.
#[derive(Clone)]
pub(crate) struct HuffmanTable {
    /// Indexed by the next `LOOKUP_BITS` bits: `(code length << 8) | symbol`, or 0 when the code
    /// is longer.
    lookup: [u16; 1 << LOOKUP_BITS],
    /// The largest code of each length (1..=16), or -1 when there is none.
    max_code: [i32; 17],
    /// Added to a code of each length to index `symbols`.
    offset: [i32; 17],
    symbols: Vec<u8>,
    /// AC tables: for the next `LOOKUP_BITS` bits, a whole non-zero coefficient when its code
    /// and its extra bits fit: `value << 16 | run << 8 | bits used`, else 0.
    ac_lookup: Box<[i32; 1 << LOOKUP_BITS]>,
}

impl HuffmanTable {
    /// Builds the table from the 16 code-length counts and the symbols of a DHT segment. Refuses
    /// what libjpeg refuses (`JERR_BAD_HUFF_TABLE`): more than 256 symbols, codes that do not
    /// fit their length (an all-ones code included), DC symbols above 15.
    pub fn new(counts: &[u8; 16], symbols: &[u8], is_dc: bool) -> Result<Self, JpegError> {
        let bad = |why: &str| JpegError::Invalid(format!("bad Huffman table: {why}"));
        if symbols.len() > 256 {
            return Err(bad("more than 256 symbols"));
        }
        if is_dc && symbols.iter().any(|&s| s > 15) {
            return Err(bad("DC symbol above 15"));
        }
        let mut table = Self {
            lookup: [0; 1 << LOOKUP_BITS],
            max_code: [-1; 17],
            offset: [0; 17],
            symbols: symbols.to_vec(),
            ac_lookup: Box::new([0; 1 << LOOKUP_BITS]),
        };
        let mut code: i32 = 0;
        let mut k: usize = 0;
        for len in 1..=16u32 {
            let count = usize::from(counts[len as usize - 1]);
            table.offset[len as usize] = k as i32 - code;
            for _ in 0..count {
                if len <= LOOKUP_BITS {
                    let shift = LOOKUP_BITS - len;
                    let first = (code as usize) << shift;
                    let entry = ((len as u16) << 8) | u16::from(symbols[k]);
                    table.lookup[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                k += 1;
            }
            if count > 0 {
                table.max_code[len as usize] = code - 1;
            }
            if code >= 1 << len {
                return Err(bad("codes overflow their length"));
            }
            code <<= 1;
        }
        if !is_dc {
            table.fill_ac_lookup();
        }
        Ok(table)
    }

    fn fill_ac_lookup(&mut self) {
        for bits in 0..1usize << LOOKUP_BITS {
            let entry = self.lookup[bits];
            let (len, rs) = (u32::from(entry >> 8), entry as u8);
            let (run, size) = (i32::from(rs >> 4), u32::from(rs & 15));
            if entry == 0 || size == 0 || len + size > LOOKUP_BITS {
                continue;
            }
            let extra = ((bits >> (LOOKUP_BITS - len - size)) & ((1 << size) - 1)) as i32;
            let value = extend(extra, size);
            self.ac_lookup[bits] = (value << 16) | (run << 8) | (len + size) as i32;
        }
    }
}

/// `v`, the `s` bits after a magnitude category, as a signed value (T.81 F.2.2.1, `EXTEND`).
#[inline(always)]
fn extend(v: i32, s: u32) -> i32 {
    if v < 1 << (s - 1) {
        v - (1 << s) + 1
    } else {
        v
    }
}

/// Reads bits, most significant first, from entropy-coded data: undoes 0xFF00 stuffing and stops
/// at the first marker (or the end of the data), after which it supplies zero bits and counts them.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Bits not yet consumed, left-aligned.
    acc: u64,
    /// How many bits of `acc` are valid (real or padding).
    count: u32,
    /// How many of the last `count` bits are padding past a marker or the end.
    padding: u32,
    at_marker: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            count: 0,
            padding: 0,
            at_marker: false,
        }
    }

    fn refill(&mut self) {
        // Fast path: eight bytes without 0xFF are eight bytes of data.
        if self.count <= 56 && !self.at_marker {
            if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
                let word = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
                if !has_ff_byte(word) {
                    let take = (64 - self.count) / 8;
                    let bits = take * 8;
                    self.acc |= (word >> (64 - bits)) << (64 - self.count - bits);
                    self.count += bits;
                    self.pos += take as usize;
                }
            }
        }
        while self.count <= 56 {
            let byte = if self.at_marker {
                None
            } else {
                self.next_byte()
            };
            let byte = byte.unwrap_or_else(|| {
                self.at_marker = true;
                self.padding += 8;
                0
            });
            self.acc |= u64::from(byte) << (56 - self.count);
            self.count += 8;
        }
    }

    /// The next data byte, or `None` at a marker or the end (the position stays on the 0xFF).
    fn next_byte(&mut self) -> Option<u8> {
        let byte = *self.data.get(self.pos)?;
        if byte != 0xFF {
            self.pos += 1;
            return Some(byte);
        }
        if self.data.get(self.pos + 1) == Some(&0) {
            self.pos += 2;
            return Some(0xFF);
        }
        None
    }

    #[inline]
    fn ensure(&mut self, bits: u32) {
        if self.count < bits {
            self.refill();
        }
    }

    /// `n` (0..=16) raw bits.
    #[inline]
    pub fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        self.ensure(n);
        let value = (self.acc >> (64 - n)) as u32;
        self.acc <<= n;
        self.count -= n;
        value
    }

    #[inline]
    pub fn bit(&mut self) -> bool {
        self.bits(1) == 1
    }

    /// `s` bits read as a signed magnitude category (T.81 F.2.2.1, `EXTEND`).
    #[inline]
    pub fn receive_extend(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        extend(self.bits(s) as i32, s)
    }

    /// A whole AC coefficient from `table`'s combined look-up, `(run, value)`, when the next
    /// bits hold one that fits; consumes its bits.
    #[inline(always)]
    fn fast_ac(&mut self, table: &HuffmanTable) -> Option<(usize, i16)> {
        self.ensure(16);
        let entry = table.ac_lookup[(self.acc >> (64 - LOOKUP_BITS)) as usize];
        if entry == 0 {
            return None;
        }
        let len = (entry & 0xFF) as u32;
        self.acc <<= len;
        self.count -= len;
        Some((((entry >> 8) & 0xFF) as usize, (entry >> 16) as i16))
    }

    #[inline]
    pub fn decode(&mut self, table: &HuffmanTable) -> Result<u8, JpegError> {
        self.ensure(16);
        let entry = table.lookup[(self.acc >> (64 - LOOKUP_BITS)) as usize];
        if entry != 0 {
            let len = u32::from(entry >> 8);
            self.acc <<= len;
            self.count -= len;
            return Ok(entry as u8);
        }
        let peek = (self.acc >> 48) as i32;
        for len in LOOKUP_BITS + 1..=16 {
            let code = peek >> (16 - len);
            if code <= table.max_code[len as usize] {
                self.acc <<= len;
                self.count -= len;
                let index = (code + table.offset[len as usize]) as usize;
                return table.symbols.get(index).copied().ok_or_else(|| {
                    JpegError::invalid("corrupt entropy-coded data: bad Huffman code")
                });
            }
        }
        Err(self.corrupt("bad Huffman code"))
    }

    /// An error when decoding has used bits past the end of the data: the file is truncated or
    /// a marker interrupts the entropy-coded segment.
    #[inline]
    pub fn check_not_exhausted(&self) -> Result<(), JpegError> {
        if self.count < self.padding {
            Err(JpegError::invalid(
                "entropy-coded data ends too early (truncated or corrupt file)",
            ))
        } else {
            Ok(())
        }
    }

    /// An error naming corrupt data, or truncation when the reader is already in its padding.
    pub fn corrupt(&self, what: &str) -> JpegError {
        if self.count < self.padding {
            JpegError::invalid("entropy-coded data ends too early (truncated or corrupt file)")
        } else {
            JpegError::Invalid(format!("corrupt entropy-coded data: {what}"))
        }
    }

    /// Position of the marker that ends this entropy-coded segment. Data between the last
    /// decoded bit and the marker is skipped, as libjpeg does.
    pub fn marker_position(&mut self) -> usize {
        if !self.at_marker {
            while self.next_byte().is_some() {}
            self.at_marker = true;
        }
        self.pos
    }

    /// Consumes the restart marker `RST<n>` that must come next, and starts afresh after it.
    pub fn restart(&mut self, n: usize) -> Result<(), JpegError> {
        let pos = self.marker_position();
        let mut markers = super::markers::MarkerReader::new(self.data);
        markers.pos = pos;
        match markers.next_marker() {
            Some(code) if usize::from(code) == usize::from(super::markers::RST0) + n => {
                *self = Self::new(self.data, markers.pos);
                Ok(())
            }
            Some(code) if (0xD0..=0xD7).contains(&code) => Err(JpegError::Invalid(format!(
                "restart marker RST{} where RST{n} was expected",
                code - 0xD0
            ))),
            _ => Err(JpegError::invalid(
                "entropy-coded data ends too early (missing restart marker)",
            )),
        }
    }
}

fn has_ff_byte(word: u64) -> bool {
    // A byte is 0xFF exactly when its complement is zero.
    let inv = !word;
    (inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080) != 0
}

/// Decodes one block of a sequential scan into `block` (natural order, not dequantised; it must
/// be all zeros on entry), updating the DC predictor. Returns whether any AC coefficient was
/// coded.
#[inline]
pub(crate) fn decode_sequential_block(
    reader: &mut BitReader<'_>,
    dc: &HuffmanTable,
    ac: &HuffmanTable,
    block: &mut [i16; 64],
    dc_pred: &mut i32,
) -> Result<bool, JpegError> {
    let s = reader.decode(dc)?;
    let diff = reader.receive_extend(u32::from(s));
    *dc_pred = dc_pred.wrapping_add(diff);
    block[0] = *dc_pred as i16;
    let mut any_ac = false;
    let mut k = 1;
    while k < 64 {
        if let Some((run, value)) = reader.fast_ac(ac) {
            k += run;
            if k > 63 {
                return Err(reader.corrupt("coefficient index past 63"));
            }
            block[ZIGZAG[k]] = value;
            k += 1;
            any_ac = true;
            continue;
        }
        let rs = reader.decode(ac)?;
        let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
        if s == 0 {
            if r != 15 {
                break;
            }
            k += 16;
            continue;
        }
        k += r;
        if k > 63 {
            return Err(reader.corrupt("coefficient index past 63"));
        }
        block[ZIGZAG[k]] = reader.receive_extend(s) as i16;
        k += 1;
        any_ac = true;
    }
    reader.check_not_exhausted()?;
    Ok(any_ac)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table of T.81 K.3 for luminance DC differences.
    fn luma_dc() -> HuffmanTable {
        let counts = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
        HuffmanTable::new(&counts, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], true).expect("table")
    }

    /// Decodes by walking codes bit by bit, the way T.81 annex F describes it.
    fn naive_decode(
        counts: &[u8; 16],
        symbols: &[u8],
        bits: &mut impl Iterator<Item = u32>,
    ) -> Option<u8> {
        let (mut code, mut first, mut k) = (0i32, 0i32, 0usize);
        for &count in counts {
            code = (code << 1) | bits.next().expect("bits") as i32;
            let count = i32::from(count);
            if code - first < count {
                return Some(symbols[k + (code - first) as usize]);
            }
            k += count as usize;
            first = (first + count) << 1;
        }
        None
    }

    #[test]
    fn table_decoding_matches_bit_by_bit_decoding() {
        // Every code but the reserved all-ones one is used; lengths up to 16 exercise both the
        // look-up and the slow path.
        let counts = [0, 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        let symbols: Vec<u8> = (0..18).map(|i| i * 7 + 1).collect();
        let table = HuffmanTable::new(&counts, &symbols, false).expect("table");
        let mut state = 0x1234_5678_9abc_def0u64;
        let data: Vec<u8> = (0..20000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .map(|b| if b == 0xFF { 0xFE } else { b })
            .collect();
        let mut reader = BitReader::new(&data, 0);
        let mut bits = data
            .iter()
            .flat_map(|&b| (0..8).rev().map(move |i| u32::from(b >> i) & 1));
        let mut slow = 0;
        for _ in 0..40000 {
            let long = reader.acc.leading_ones() >= 8;
            match naive_decode(&counts, &symbols, &mut bits) {
                Some(expected) => assert_eq!(reader.decode(&table).ok(), Some(expected)),
                None => {
                    assert!(reader.decode(&table).is_err());
                    break;
                }
            }
            slow += usize::from(long);
        }
        assert!(slow > 10, "only {slow} long codes");
    }

    /// Decodes a block coefficient by coefficient with the plain table only.
    fn naive_block(reader: &mut BitReader<'_>, dc: &HuffmanTable, ac: &HuffmanTable) -> [i16; 64] {
        let mut block = [0i16; 64];
        let s = reader.decode(dc).expect("dc");
        block[0] = reader.receive_extend(u32::from(s)) as i16;
        let mut k = 1;
        while k < 64 {
            let rs = reader.decode(ac).expect("ac");
            let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
            if s == 0 {
                if r != 15 {
                    break;
                }
                k += 16;
                continue;
            }
            k += r;
            if k > 63 {
                break;
            }
            block[ZIGZAG[k]] = reader.receive_extend(s) as i16;
            k += 1;
        }
        block
    }

    #[test]
    fn combined_ac_lookup_decodes_like_the_plain_table() {
        // T.81 K.3's luminance AC code lengths, symbols in an order that makes short codes
        // carry small categories.
        let counts = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
        let mut symbols: Vec<u8> = vec![0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21];
        let first = symbols.clone();
        symbols.extend(
            (0u8..=255)
                .filter(|s| !first.contains(s) && s & 15 <= 10)
                .take(162 - 9),
        );
        let ac = HuffmanTable::new(&counts, &symbols, false).expect("ac table");
        let dc = luma_dc();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let data: Vec<u8> = (0..30000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .map(|b| if b == 0xFF { 0x7F } else { b })
            .collect();
        let (mut fast, mut plain) = (BitReader::new(&data, 0), BitReader::new(&data, 0));
        let mut compared = 0;
        for _ in 0..200 {
            let mut block = [0i16; 64];
            let mut pred = 0;
            let Ok(_) = decode_sequential_block(&mut fast, &dc, &ac, &mut block, &mut pred) else {
                break;
            };
            assert_eq!(block, naive_block(&mut plain, &dc, &ac));
            assert_eq!((fast.acc, fast.count), (plain.acc, plain.count));
            compared += 1;
        }
        assert!(compared >= 20, "only {compared} blocks decoded");
    }

    #[test]
    fn stuffed_bytes_are_data_and_markers_end_it() {
        let data = [0xAB, 0xFF, 0x00, 0x12, 0xFF, 0xD9];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.bits(8), 0xAB);
        assert_eq!(r.bits(16), 0xFF12);
        assert!(r.check_not_exhausted().is_ok());
        assert_eq!(r.bits(1), 0);
        assert!(r.check_not_exhausted().is_err());
        assert_eq!(r.marker_position(), 4);
    }

    #[test]
    fn extend_gives_negative_values_for_leading_zero() {
        let data = [0b0111_0000, 0, 0, 0];
        let mut r = BitReader::new(&data, 0);
        assert_eq!(r.receive_extend(3), -4);
        assert_eq!(r.receive_extend(2), 2);
    }

    #[test]
    fn tables_that_libjpeg_refuses_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 2; // both 1-bit codes, the second all ones
        assert!(HuffmanTable::new(&counts, &[0, 1], false).is_err());
        assert!(HuffmanTable::new(&[1; 16], &[16; 16], true).is_err());
        assert!(luma_dc().symbols.len() == 12);
    }

    #[test]
    fn a_code_missing_from_the_table_is_corrupt_data() {
        let table = luma_dc();
        let data = [0xFF, 0x00, 0xFF, 0x00, 0xFF, 0x00];
        let err = BitReader::new(&data, 0).decode(&table);
        assert!(matches!(err, Err(JpegError::Invalid(_))), "{err:?}");
    }
}
