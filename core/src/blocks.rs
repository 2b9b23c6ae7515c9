//! Sets of subscribers as bitmaps: ids in blocks of 64, one `i64` of bits per block.
//! Shared inbox items and the send ledger keep their recipients this way, so "does row
//! r mark subscriber s" is a block lookup and `bits & mask` in SQL, the same on
//! Postgres and SQLite, and a page of neighbouring ids takes a row per 64 of them.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, ExprTrait, IntoColumnRef};

/// Subscriber ids per block.
pub const BLOCK: i64 = 64;

/// The block and bit of a subscriber id.
pub fn block_of(subscriber_id: i64) -> (i64, i64) {
    let bit = u32::try_from(subscriber_id.rem_euclid(BLOCK)).unwrap_or(0);
    (subscriber_id.div_euclid(BLOCK), 1_i64.wrapping_shl(bit))
}

/// `bits` has the bit of `mask` set.
pub fn marks(bits: impl IntoColumnRef, mask: i64) -> Expr {
    Expr::col(bits).bit_and(mask).ne(0)
}

/// The bitmaps marking `ids`, by block.
pub fn bitmaps(ids: impl IntoIterator<Item = i64>) -> BTreeMap<i64, i64> {
    let mut bits = BTreeMap::new();
    for id in ids {
        let (block, mask) = block_of(id);
        *bits.entry(block).or_insert(0) |= mask;
    }
    bits
}

/// The ids a block's bits mark.
pub fn members(block: i64, bits: i64) -> impl Iterator<Item = i64> {
    (0..BLOCK).filter_map(move |bit| {
        (bits & 1_i64.wrapping_shl(u32::try_from(bit).unwrap_or(0)) != 0)
            .then_some(block * BLOCK + bit)
    })
}

/// The blocks holding `ids`, ascending, each once.
pub fn blocks_of(ids: &[i64]) -> Vec<i64> {
    let mut blocks: Vec<i64> = ids.iter().map(|id| block_of(*id).0).collect();
    blocks.sort_unstable();
    blocks.dedup();
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitmaps_mark_exactly_their_ids() {
        let ids = [0, 1, 63, 64, 127, 1_000_000, 9_223_372_036_854_775_807];
        let bits = bitmaps(ids);
        let mut back: Vec<i64> = bits
            .iter()
            .flat_map(|(block, bits)| members(*block, *bits))
            .collect();
        back.sort_unstable();
        assert_eq!(back, ids);
        let (block, mask) = block_of(63);
        assert_eq!(block, 0);
        assert!(mask < 0, "bit 63 is the sign bit");
        assert_eq!(blocks_of(&[127, 0, 1_000_000, 64, 1]), vec![0, 1, 15_625]);
    }
}
