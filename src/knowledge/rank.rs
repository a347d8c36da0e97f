//! Ranking: exact cosine over stored vectors, reciprocal rank fusion of the lexical and vector
//! lists, and the compact text form vectors are stored in (little-endian `f32`, base64).

/// RRF's damping constant. The original paper's 60 (Elastic's and Azure's default) was made for
/// fusing deep lists of many systems; our two lists are short (`candidates_for`), and 60 let any
/// chunk both rankings found outrank the vector ranking's first, so a common keyword ("lamp")
/// pushed the right answer out of the top 5. Chosen on bench/knowledge-eval.mjs (see bench/).
pub const RRF_K: f64 = 5.0;

/// The keyword ranking's weight in the fusion (the vector ranking's is 1). Below 1, a chunk
/// only keywords found ranks under the vector ranking's top results, and keywords mostly
/// confirm (lift what both found); measured on bench/knowledge-eval.mjs, see bench/.
pub const LEXICAL_WEIGHT: f64 = 0.5;

/// Cosine similarity; 0 for vectors of different lengths or zero length.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() || a.is_empty() {
        return 0.0;
    }
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return 0.0;
    }
    dot / (na.sqrt() * nb.sqrt())
}

/// `v` scaled to length 1 (a zero vector stays zero), so that its cosine with another unit
/// vector is a plain `dot`: what a search over many stored vectors computes once per vector.
pub fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The dot product; 0 for vectors of different lengths. Eight running sums rather than one:
/// the additions do not wait on each other, which is most of a scan's time.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    if a.len() != b.len() {
        return 0.0;
    }
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot(a, b)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        dot_in_lanes(a, b)
    }
}

/// `dot` in eight scalar running sums (the host's; its compiler vectorises them).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
fn dot_in_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail_dot(a, b)
}

/// The products of the elements after the last whole group of eight (both scans' tail).
fn tail_dot(a: &[f32], b: &[f32]) -> f32 {
    let whole = a.len() / 8 * 8;
    let (a, b) = (a.get(whole..).unwrap_or(&[]), b.get(whole..).unwrap_or(&[]));
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The vector scan in wasm's 128-bit SIMD (every current engine, workerd's V8 included, has
/// it): two four-lane sums, the same eight running sums as `dot_in_lanes`, four times fewer
/// instructions. Only this function is compiled for SIMD, so the rest of the module stays
/// what any wasm engine runs.
#[cfg(target_arch = "wasm32")]
mod simd {
    use core::arch::wasm32::{f32x4, f32x4_add, f32x4_extract_lane, f32x4_mul, v128, v128_load};

    #[target_feature(enable = "simd128")]
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        let (mut low, mut high) = (f32x4(0.0, 0.0, 0.0, 0.0), f32x4(0.0, 0.0, 0.0, 0.0));
        for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
            // SAFETY: each chunk holds eight `f32`s, so both unaligned 16-byte loads read
            // inside it.
            let (x0, x1, y0, y1) = unsafe {
                let (x, y) = (x.as_ptr().cast::<v128>(), y.as_ptr().cast::<v128>());
                (
                    v128_load(x),
                    v128_load(x.add(1)),
                    v128_load(y),
                    v128_load(y.add(1)),
                )
            };
            low = f32x4_add(low, f32x4_mul(x0, y0));
            high = f32x4_add(high, f32x4_mul(x1, y1));
        }
        let sum = f32x4_add(low, high);
        f32x4_extract_lane::<0>(sum)
            + f32x4_extract_lane::<1>(sum)
            + f32x4_extract_lane::<2>(sum)
            + f32x4_extract_lane::<3>(sum)
            + super::tail_dot(a, b)
    }
}

/// The `k` best `(id, score)` by score, best first (ties by id, so results are stable).
pub fn top_k<I: Clone + Ord>(
    scored: impl IntoIterator<Item = (I, f32)>,
    k: usize,
) -> Vec<(I, f32)> {
    let order = |a: &(I, f32), b: &(I, f32)| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0));
    let mut all: Vec<(I, f32)> = scored.into_iter().filter(|(_, s)| s.is_finite()).collect();
    // Partition first: sorting only the k best keeps a search over many vectors linear.
    if all.len() > k {
        all.select_nth_unstable_by(k, order);
        all.truncate(k);
    }
    all.sort_by(order);
    all
}

/// A fused hit: its RRF score, and its rank (from 1) in each list it appeared in.
#[derive(Debug, Clone, PartialEq)]
pub struct Fused<I> {
    /// The item.
    pub id: I,
    /// Sum over lists of `1 / (RRF_K + rank)`.
    pub score: f64,
    /// Rank in the lexical list.
    pub lexical_rank: Option<usize>,
    /// Rank in the vector list.
    pub vector_rank: Option<usize>,
}

/// Weighted reciprocal rank fusion of two ranked lists (best first), best first; at most `k`.
pub fn fuse<I: Clone + PartialEq + Ord>(lexical: &[I], vector: &[I], k: usize) -> Vec<Fused<I>> {
    let mut out: Vec<Fused<I>> = Vec::new();
    let mut add = |id: &I, rank: usize, lexical_list: bool| {
        let weight = if lexical_list { LEXICAL_WEIGHT } else { 1.0 };
        let gain = weight / (RRF_K + rank as f64);
        let entry = match out.iter_mut().position(|f| &f.id == id) {
            Some(i) => &mut out[i],
            None => {
                out.push(Fused {
                    id: id.clone(),
                    score: 0.0,
                    lexical_rank: None,
                    vector_rank: None,
                });
                let last = out.len() - 1;
                &mut out[last]
            }
        };
        entry.score += gain;
        if lexical_list {
            entry.lexical_rank = Some(rank);
        } else {
            entry.vector_rank = Some(rank);
        }
    };
    for (i, id) in lexical.iter().enumerate() {
        add(id, i + 1, true);
    }
    for (i, id) in vector.iter().enumerate() {
        add(id, i + 1, false);
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.id.cmp(&b.id)));
    out.truncate(k);
    out
}

/// The best possible fused score of the rankings that ran: first in each. Scores are shown
/// divided by it, so a hit ranked first by every ranking reads 1.0.
pub fn best_score(lexical: bool, vector: bool) -> f64 {
    let weights = if lexical { LEXICAL_WEIGHT } else { 0.0 } + if vector { 1.0 } else { 0.0 };
    weights / (RRF_K + 1.0)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's value in `ALPHABET`, 255 for bytes outside it: a base's first search decodes
/// every one of its vectors, so each character is a lookup rather than a scan.
const DECODE: [u8; 256] = {
    let mut table = [255u8; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// A vector as base64 of its little-endian `f32`s (a quarter of the size of JSON numbers).
pub fn encode_vector(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let n = group.len();
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let triple = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= n {
                out.push(ALPHABET[((triple >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Reads `encode_vector`'s form; `None` when it is not one.
pub fn decode_vector(text: &str) -> Option<Vec<f32>> {
    let mut bytes = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        if c == b'=' {
            break;
        }
        let value = match DECODE[usize::from(c)] {
            255 => return None,
            v => u32::from(v),
        };
        acc = (acc << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            bytes.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bytes.len() % 4 != 0 {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_is_one_for_the_same_direction_and_zero_when_unusable() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
        assert_eq!(cosine(&[1.0], &[1.0, 2.0]), 0.0);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn the_dot_of_unit_vectors_is_their_cosine() {
        let mut x = 7u32;
        let mut next = || {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for len in [1, 7, 8, 9, 384, 1_537] {
            let a: Vec<f32> = (0..len).map(|_| next()).collect();
            let b: Vec<f32> = (0..len).map(|_| next()).collect();
            let expected = cosine(&a, &b);
            let got = dot(&unit(a), &unit(b));
            assert!((got - expected).abs() < 1e-4, "{len}: {got} vs {expected}");
        }
        assert_eq!(unit(vec![0.0, 0.0]), vec![0.0, 0.0]);
        assert_eq!(dot(&[1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn fusion_rewards_items_both_lists_agree_on() {
        let fused = fuse(&["a", "b", "c"], &["c", "d", "a"], 10);
        let order: Vec<&str> = fused.iter().map(|f| f.id).collect();
        assert_eq!(
            order,
            vec!["c", "a", "d", "b"],
            "both lists beat one; vectors weigh more"
        );
        assert_eq!(fused[1].lexical_rank, Some(1));
        assert_eq!(fused[1].vector_rank, Some(3));
        assert!((fuse(&["x"], &["x"], 1)[0].score - best_score(true, true)).abs() < 1e-12);
        assert!((fuse(&["x"], &[], 1)[0].score - best_score(true, false)).abs() < 1e-12);
        assert_eq!(fuse::<&str>(&[], &[], 3), vec![]);
        assert_eq!(fuse(&["a", "b"], &[], 1).len(), 1);
    }

    #[test]
    fn top_k_orders_by_score_then_id_and_drops_nan() {
        let got = top_k(vec![("b", 0.5), ("a", 0.5), ("c", 0.9), ("d", f32::NAN)], 3);
        assert_eq!(got, vec![("c", 0.9), ("a", 0.5), ("b", 0.5)]);
        assert_eq!(
            top_k(vec![("b", 0.5), ("a", 0.5), ("c", 0.9)], 2),
            vec![("c", 0.9), ("a", 0.5)]
        );
        assert_eq!(top_k(vec![("a", 1.0)], 0), vec![]);
    }

    #[test]
    fn vectors_round_trip_through_text() {
        for v in [
            vec![],
            vec![1.5f32],
            vec![0.1, -2.0, 3.25],
            vec![f32::MIN; 7],
        ] {
            assert_eq!(decode_vector(&encode_vector(&v)), Some(v));
        }
        assert_eq!(decode_vector("not base64!"), None);
        assert_eq!(decode_vector("AAA="), None, "two bytes are no f32");
    }
}
