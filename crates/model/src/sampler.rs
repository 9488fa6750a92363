//! Choosing the next token from logits, with llama.cpp's default chain and
//! defaults: repetition penalties, then top-k, top-p, min-p, temperature,
//! and a seeded random draw. A temperature of 0 (or less) is greedy: the
//! first token of highest logit, as llama.cpp's greedy sampler picks.
//!
//! Only the top-k candidates are gathered (a threshold scan over the
//! logits), not the whole vocabulary: Gemma 3 has 262,144 entries, and a
//! full sort or selection over them cost milliseconds per token and
//! sequence. The buffers reach their size on the first token; sampling
//! allocates nothing after that.

use std::collections::VecDeque;

/// Sampling parameters. The default is llama.cpp's `common_params_sampling`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerConfig {
    /// 0 or less: greedy.
    pub temperature: f32,
    /// 0: disabled.
    pub top_k: usize,
    /// 1.0: disabled.
    pub top_p: f32,
    /// 0.0: disabled.
    pub min_p: f32,
    /// 1.0: disabled. Divides positive logits of recent tokens, multiplies negative ones.
    pub repeat_penalty: f32,
    /// Subtracted once per occurrence in the recent window.
    pub frequency_penalty: f32,
    /// Subtracted once if present in the recent window.
    pub presence_penalty: f32,
    /// How many recent tokens the penalties look at.
    pub penalty_last_n: usize,
    /// Same seed, same logits: same tokens.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.0,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            penalty_last_n: 64,
            seed: 0,
        }
    }
}

impl SamplerConfig {
    /// Greedy decoding.
    pub fn greedy() -> Self {
        SamplerConfig {
            temperature: 0.0,
            ..Self::default()
        }
    }
}

/// A small, fast, seedable generator (SplitMix64): deterministic across
/// platforms, which is all sampling needs.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Picks tokens; remembers recent ones for the penalties.
#[derive(Debug, Clone)]
pub struct Sampler {
    cfg: SamplerConfig,
    rng: Rng,
    history: VecDeque<u32>,
    /// The logits after the penalties.
    adj: Vec<f32>,
    /// (token, logit), then (token, probability) during a draw.
    cand: Vec<(u32, f32)>,
}

impl Sampler {
    pub fn new(cfg: SamplerConfig, n_vocab: usize) -> Sampler {
        Sampler {
            rng: Rng(cfg.seed),
            history: VecDeque::with_capacity(cfg.penalty_last_n + 1),
            adj: Vec::with_capacity(n_vocab),
            cand: Vec::new(),
            cfg,
        }
    }

    pub fn config(&self) -> &SamplerConfig {
        &self.cfg
    }

    /// Records a token (prompt or generated) for the repetition penalties.
    pub fn accept(&mut self, token: u32) {
        if self.cfg.penalty_last_n == 0 {
            return;
        }
        if self.history.len() == self.cfg.penalty_last_n {
            self.history.pop_front();
        }
        self.history.push_back(token);
    }

    /// The next token for `logits` (one per vocabulary entry).
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if logits.is_empty() {
            return 0;
        }
        // The penalties change the logits of a few recent tokens: on a copy.
        let logits = if self.apply_penalties(logits) {
            &self.adj[..]
        } else {
            logits
        };
        let c = self.cfg.clone();
        if c.temperature <= 0.0 {
            return greedy(logits);
        }
        ranked(logits, c.top_k, &mut self.cand);
        // top-p on the softmax of the remaining logits.
        if c.top_p < 1.0 {
            let probs_sum = softmax_in_place_sum(&self.cand);
            let max = self.cand[0].1;
            let mut cum = 0.0f64;
            let mut keep = self.cand.len();
            for (i, &(_, l)) in self.cand.iter().enumerate() {
                cum += f64::from((l - max).exp()) / probs_sum;
                if cum >= f64::from(c.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            self.cand.truncate(keep.max(1));
        }
        // min-p: keep tokens with p >= min_p * p_max, i.e. logit >= max + ln(min_p).
        if c.min_p > 0.0 {
            let floor = self.cand[0].1 + c.min_p.ln();
            let keep = self.cand.iter().take_while(|&&(_, l)| l >= floor).count();
            self.cand.truncate(keep.max(1));
        }
        // Temperature, then a draw from the softmax.
        for cand in self.cand.iter_mut() {
            cand.1 /= c.temperature;
        }
        let sum = softmax_in_place_sum(&self.cand);
        let max = self.cand[0].1;
        let r = self.rng.next_f64() * sum;
        let mut acc = 0.0f64;
        for &(tok, l) in &self.cand {
            acc += f64::from((l - max).exp());
            if acc > r {
                return tok;
            }
        }
        self.cand[self.cand.len() - 1].0
    }

    /// `adj`: `logits` with the penalties applied, when there are any
    /// (then returns true).
    fn apply_penalties(&mut self, logits: &[f32]) -> bool {
        let c = &self.cfg;
        if self.history.is_empty()
            || (c.repeat_penalty == 1.0 && c.frequency_penalty == 0.0 && c.presence_penalty == 0.0)
        {
            return false;
        }
        self.adj.clear();
        self.adj.extend_from_slice(logits);
        // Count each distinct token once per occurrence; the window is short.
        for (i, &tok) in self.history.iter().enumerate() {
            if self.history.iter().take(i).any(|&t| t == tok) {
                continue;
            }
            let count = self.history.iter().filter(|&&t| t == tok).count() as f32;
            if let Some(l) = self.adj.get_mut(tok as usize) {
                if *l <= 0.0 {
                    *l *= c.repeat_penalty;
                } else {
                    *l /= c.repeat_penalty;
                }
                *l -= count * c.frequency_penalty + c.presence_penalty;
            }
        }
        true
    }
}

/// The first token of highest logit (NaNs never win, unless first: then
/// nothing compares greater). Two passes the compiler vectorizes: the
/// maximum, then where it first occurs.
fn greedy(logits: &[f32]) -> u32 {
    if logits.first().is_none_or(|l| l.is_nan()) {
        return 0;
    }
    const LANES: usize = 16;
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = logits.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &l) in lanes.iter_mut().zip(c) {
            *m = if l > *m { l } else { *m };
        }
    }
    let max = lanes
        .iter()
        .chain(tail)
        .fold(f32::NEG_INFINITY, |m, &l| if l > m { l } else { m });
    let chunk = logits
        .chunks(LANES)
        .position(|c| c.iter().fold(false, |hit, &l| hit | (l == max)))
        .unwrap_or(0);
    let at = logits[chunk * LANES..].iter().position(|&l| l == max);
    (chunk * LANES + at.unwrap_or(0)) as u32
}

/// `cand`: the `top_k` best of `logits` (all of them for 0), sorted by
/// logit, descending, then by token id.
fn ranked(logits: &[f32], top_k: usize, cand: &mut Vec<(u32, f32)>) {
    cand.clear();
    if top_k > 0 && top_k < logits.len() {
        top_k_candidates(logits, top_k, cand);
        if top_k < cand.len() {
            cand.select_nth_unstable_by(top_k - 1, by_logit);
            cand.truncate(top_k);
        }
    } else {
        cand.extend(logits.iter().enumerate().map(|(i, &l)| (i as u32, l)));
    }
    cand.sort_unstable_by(by_logit);
}

/// Descending logit, then ascending token id: a total order.
fn by_logit(a: &(u32, f32), b: &(u32, f32)) -> std::cmp::Ordering {
    b.1.total_cmp(&a.1).then(a.0.cmp(&b.0))
}

/// Candidates from `logits` that include its `k` best ([`by_logit`]): a
/// scan that keeps what reaches the k-th best value seen so far, trimmed
/// back to `k` whenever the buffer fills. Whatever is left out is below
/// `k` values already kept.
///
/// Once the threshold has risen, almost every logit is below it: the scan
/// tests sixteen at a time (a comparison the compiler vectorizes) and only
/// walks a group one by one when one of them may be kept.
fn top_k_candidates(logits: &[f32], k: usize, cand: &mut Vec<(u32, f32)>) {
    const GROUP: usize = 16;
    let cap = (4 * k).max(256);
    let mut thr = f32::NEG_INFINITY;
    for (g, group) in logits.chunks(GROUP).enumerate() {
        if group.iter().fold(false, |hit, &l| hit | may_keep(l, thr)) {
            for (j, &l) in group.iter().enumerate() {
                if may_keep(l, thr) {
                    cand.push(((g * GROUP + j) as u32, l));
                    if cand.len() >= cap {
                        cand.select_nth_unstable_by(k - 1, by_logit);
                        cand.truncate(k);
                        thr = cand[k - 1].1;
                    }
                }
            }
        }
    }
}

/// Whether the scan keeps logit `l` at threshold `thr`: unless surely
/// below it (a NaN is kept, as `total_cmp` ranks it first).
/// One unordered comparison (`l >= thr || l.is_nan()` takes two).
#[inline(always)]
#[allow(clippy::neg_cmp_op_on_partial_ord)]
fn may_keep(l: f32, thr: f32) -> bool {
    !(l < thr)
}

/// `Σ exp(l - max)` over candidates sorted by descending logit.
fn softmax_in_place_sum(cand: &[(u32, f32)]) -> f64 {
    let max = cand.first().map_or(0.0, |c| c.1);
    cand.iter().map(|&(_, l)| f64::from((l - max).exp())).sum()
}

/// Watches generated text for stop strings.
#[derive(Debug, Clone, Default)]
pub struct StopStrings {
    stops: Vec<String>,
}

impl StopStrings {
    pub fn new(stops: Vec<String>) -> StopStrings {
        StopStrings {
            stops: stops.into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }

    /// Where in `text` the first stop string begins, if one occurs.
    pub fn find(&self, text: &str) -> Option<usize> {
        self.stops.iter().filter_map(|s| text.find(s.as_str())).min()
    }

    /// How many trailing bytes of `text` could still be the start of a stop
    /// string: text a streaming caller should hold back for now.
    pub fn pending_len(&self, text: &str) -> usize {
        let mut best = 0;
        for s in &self.stops {
            for k in (1..s.len()).rev() {
                if k <= best {
                    break;
                }
                if text.len() >= k
                    && s.is_char_boundary(k)
                    && text.is_char_boundary(text.len() - k)
                    && text.ends_with(&s[..k])
                {
                    best = k;
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_first_maximum() {
        let mut s = Sampler::new(SamplerConfig::greedy(), 4);
        assert_eq!(s.sample(&[0.1, 3.0, 3.0, -1.0]), 1);
    }

    #[test]
    fn same_seed_same_tokens() {
        let logits: Vec<f32> = (0..100).map(|i| ((i * 37) % 11) as f32 * 0.3).collect();
        let cfg = SamplerConfig {
            seed: 42,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            temperature: 1.5,
            ..SamplerConfig::default()
        };
        let draw = |cfg: &SamplerConfig| {
            let mut s = Sampler::new(cfg.clone(), 100);
            (0..50).map(|_| s.sample(&logits)).collect::<Vec<_>>()
        };
        let a = draw(&cfg);
        assert_eq!(a, draw(&cfg));
        let other = draw(&SamplerConfig {
            seed: 43,
            ..cfg.clone()
        });
        assert_ne!(a, other);
        // Not stuck on one token at a high temperature.
        assert!(a.iter().any(|&t| t != a[0]));
    }

    #[test]
    fn top_k_scan_ranks_as_a_full_sort() {
        // Many ties (a few distinct values), infinities and NaNs, in
        // vocabularies around the scan's buffer size.
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [1usize, 2, 100, 255, 256, 1000, 5000, 20000] {
            for k in [1usize, 2, 40, 64, 255, 300, 4999] {
                let logits: Vec<f32> = (0..n)
                    .map(|_| match next() % 50 {
                        0 => f32::NAN,
                        1 => f32::INFINITY,
                        2 => f32::NEG_INFINITY,
                        3 => -0.0,
                        r => (r % 7) as f32 * 0.5 - 1.0 + (next() % 3) as f32 * 1e-3,
                    })
                    .collect();
                let mut cand = Vec::new();
                ranked(&logits, k, &mut cand);
                let mut want: Vec<(u32, f32)> =
                    logits.iter().enumerate().map(|(i, &l)| (i as u32, l)).collect();
                want.sort_by(by_logit);
                want.truncate(if k < n { k } else { n });
                let got: Vec<(u32, u32)> = cand.iter().map(|&(i, l)| (i, l.to_bits())).collect();
                let want: Vec<(u32, u32)> = want.iter().map(|&(i, l)| (i, l.to_bits())).collect();
                assert_eq!(got, want, "n {n} k {k}");
            }
        }
    }

    #[test]
    fn greedy_scan_picks_the_first_maximum() {
        let naive = |l: &[f32]| {
            let mut best = 0;
            for (i, &v) in l.iter().enumerate() {
                if v > l[best] {
                    best = i;
                }
            }
            best as u32
        };
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [1usize, 2, 15, 16, 17, 31, 33, 100, 1000] {
            for _ in 0..200 {
                let l: Vec<f32> = (0..n)
                    .map(|_| match next() % 20 {
                        0 => f32::NAN,
                        1 => f32::NEG_INFINITY,
                        2 => f32::INFINITY,
                        r => (r % 5) as f32,
                    })
                    .collect();
                assert_eq!(greedy(&l), naive(&l), "{l:?}");
            }
        }
        assert_eq!(greedy(&[f32::NEG_INFINITY; 40]), 0);
    }

    #[test]
    fn top_k_one_is_greedy() {
        let cfg = SamplerConfig {
            top_k: 1,
            seed: 9,
            ..SamplerConfig::default()
        };
        let mut s = Sampler::new(cfg, 5);
        for _ in 0..20 {
            assert_eq!(s.sample(&[1.0, 2.0, 5.0, 4.9, 0.0]), 2);
        }
    }

    #[test]
    fn top_p_and_min_p_cut_the_tail() {
        // One dominant token: top-p 0.5 keeps only it.
        let logits = [10.0, 0.0, 0.0, 0.0];
        let cfg = SamplerConfig {
            top_k: 0,
            top_p: 0.5,
            min_p: 0.0,
            temperature: 5.0,
            ..SamplerConfig::default()
        };
        let mut s = Sampler::new(cfg, 4);
        assert!((0..50).all(|_| s.sample(&logits) == 0));
        // min-p 0.5: tokens 0 and 1 are within ln 2 of each other, 2 is not.
        let logits = [1.0, 0.5, -5.0];
        let cfg = SamplerConfig {
            top_k: 0,
            top_p: 1.0,
            min_p: 0.5,
            temperature: 100.0,
            ..SamplerConfig::default()
        };
        let mut s = Sampler::new(cfg, 3);
        let drawn: Vec<u32> = (0..200).map(|_| s.sample(&logits)).collect();
        assert!(drawn.contains(&0) && drawn.contains(&1) && !drawn.contains(&2));
    }

    #[test]
    fn penalties_push_repeated_tokens_down() {
        let cfg = SamplerConfig {
            temperature: 0.0,
            repeat_penalty: 2.0,
            frequency_penalty: 0.5,
            presence_penalty: 0.5,
            ..SamplerConfig::default()
        };
        let mut s = Sampler::new(cfg, 3);
        assert_eq!(s.sample(&[2.0, 1.5, 0.0]), 0);
        s.accept(0);
        // 2.0 / 2 - 0.5 - 0.5 = 0.0 < 1.5
        assert_eq!(s.sample(&[2.0, 1.5, 0.0]), 1);
    }

    #[test]
    fn stop_strings() {
        let st = StopStrings::new(vec!["\n\n".into(), "END".into()]);
        assert_eq!(st.find("abc\n\ndef"), Some(3));
        assert_eq!(st.find("xxEND"), Some(2));
        assert_eq!(st.find("abc"), None);
        assert_eq!(st.pending_len("abcEN"), 2);
        assert_eq!(st.pending_len("abc\n"), 1);
        assert_eq!(st.pending_len("abc"), 0);
    }
}
