//! Splitting the energy of an engine step between the requests in it.
//!
//! The engine reads the meter just before and just after each step (one
//! forward pass over a batch) and hands the difference here with what each
//! request contributed to the step: prompt tokens being prefilled and tokens
//! being decoded. Each request is charged `step energy x its weighted tokens
//! / all weighted tokens of the step`.
//!
//! Idle power is not charged: energy drawn between steps, when no request is
//! being computed, is never read into a step, and a step with no tokens
//! charges nobody. A [`Ledger`] keeps such energy apart as idle.
//!
//! # Weights
//!
//! [`TokenWeights::default`] charges a prefill token and a decode token
//! alike (1:1), because in one step they cost the same compute: every token
//! row of the batch goes through the same weight matrices (about 2 FLOPs
//! per parameter per token, whichever phase the token is in), and the weight
//! traffic of the step is shared by all its rows. The familiar "decode costs
//! more per token" holds across steps, when a decode step moves all weights
//! for one token per request; that cost is already in the step's energy and
//! is split among whoever is in the step. What the 1:1 split leaves out is
//! attention, which grows with each token's context length; an engine whose
//! steps mix long-context decodes with short prompts may want a decode weight
//! above 1, and one whose prefill runs through faster kernels than its decode
//! a prefill weight below 1: [`TokenWeights::new`] takes both.

use std::collections::HashMap;
use std::hash::Hash;

use crate::error::{Error, Result};

/// What one request contributed to one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StepWork {
    /// Prompt tokens processed in this step.
    pub prefill_tokens: u32,
    /// Tokens generated in this step (one per decoding request, usually).
    pub decode_tokens: u32,
}

impl StepWork {
    /// Work of `prefill_tokens` prompt tokens and `decode_tokens` generated ones.
    pub const fn new(prefill_tokens: u32, decode_tokens: u32) -> Self {
        StepWork {
            prefill_tokens,
            decode_tokens,
        }
    }
}

/// Relative compute cost of a prefill token and a decode token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenWeights {
    prefill: f64,
    decode: f64,
}

impl Default for TokenWeights {
    /// 1:1, see the [module documentation](self).
    fn default() -> Self {
        TokenWeights {
            prefill: 1.0,
            decode: 1.0,
        }
    }
}

impl TokenWeights {
    /// Weights (finite, >= 0, not both 0).
    pub fn new(prefill: f64, decode: f64) -> Result<Self> {
        for (what, value) in [("prefill token weight", prefill), ("decode token weight", decode)] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::InvalidSetting {
                    what,
                    value,
                    why: "must be a finite number, 0 or more",
                });
            }
        }
        if prefill == 0.0 && decode == 0.0 {
            return Err(Error::InvalidSetting {
                what: "token weights",
                value: 0.0,
                why: "prefill and decode weights cannot both be 0",
            });
        }
        Ok(TokenWeights { prefill, decode })
    }

    /// Weight of one prefill token.
    pub fn prefill(&self) -> f64 {
        self.prefill
    }

    /// Weight of one decode token.
    pub fn decode(&self) -> f64 {
        self.decode
    }

    /// Weighted size of `work`.
    pub fn cost(&self, work: StepWork) -> f64 {
        f64::from(work.prefill_tokens) * self.prefill + f64::from(work.decode_tokens) * self.decode
    }
}

/// Joules between two reads of a microjoule counter (0 if it went backwards).
pub fn joules_between(before_uj: u64, after_uj: u64) -> f64 {
    after_uj.saturating_sub(before_uj) as f64 / 1e6
}

/// Splits `step_joules` between requests in proportion to their weighted
/// tokens; `result[i]` belongs to `work[i]`. The parts add up to
/// `step_joules` (to rounding) unless the step has no tokens at all, in which
/// case every part is 0. Negative or non-finite energy counts as 0.
pub fn split(step_joules: f64, work: &[StepWork], weights: &TokenWeights) -> Vec<f64> {
    let energy = if step_joules.is_finite() && step_joules > 0.0 {
        step_joules
    } else {
        0.0
    };
    let total: f64 = work.iter().map(|&w| weights.cost(w)).sum();
    if total <= 0.0 {
        return vec![0.0; work.len()];
    }
    work.iter().map(|&w| energy * (weights.cost(w) / total)).collect()
}

/// Running per-request energy totals across steps, keyed by the engine's
/// request id.
#[derive(Debug, Clone)]
pub struct Ledger<K> {
    weights: TokenWeights,
    charged: HashMap<K, f64>,
    idle_joules: f64,
}

impl<K: Eq + Hash + Clone> Default for Ledger<K> {
    fn default() -> Self {
        Ledger::new(TokenWeights::default())
    }
}

impl<K: Eq + Hash + Clone> Ledger<K> {
    /// An empty ledger splitting with `weights`.
    pub fn new(weights: TokenWeights) -> Self {
        Ledger {
            weights,
            charged: HashMap::new(),
            idle_joules: 0.0,
        }
    }

    /// Charges one step's energy to the requests in it. A request may appear
    /// more than once; its parts add up. A step without tokens is idle.
    pub fn record_step(&mut self, step_joules: f64, work: &[(K, StepWork)]) {
        let parts: Vec<StepWork> = work.iter().map(|(_, w)| *w).collect();
        let shares = split(step_joules, &parts, &self.weights);
        if shares.iter().all(|&j| j == 0.0) {
            self.record_idle(step_joules);
            return;
        }
        for ((request, _), joules) in work.iter().zip(shares) {
            *self.charged.entry(request.clone()).or_insert(0.0) += joules;
        }
    }

    /// Notes energy drawn while no request was being computed. It is kept
    /// for reporting and never charged to a request.
    pub fn record_idle(&mut self, joules: f64) {
        if joules.is_finite() && joules > 0.0 {
            self.idle_joules += joules;
        }
    }

    /// Joules charged so far to `request` (0 if unknown).
    pub fn charged(&self, request: &K) -> f64 {
        self.charged.get(request).copied().unwrap_or(0.0)
    }

    /// Removes `request` and returns its total (0 if unknown): call when the
    /// request completes, then build its report with
    /// [`crate::Carbon::report`].
    pub fn finish(&mut self, request: &K) -> f64 {
        self.charged.remove(request).unwrap_or(0.0)
    }

    /// Energy seen outside any request.
    pub fn idle_joules(&self) -> f64 {
        self.idle_joules
    }

    /// The weights in use.
    pub fn weights(&self) -> TokenWeights {
        self.weights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs().max(1.0)
    }

    #[test]
    fn two_requests_in_one_batch_split_by_tokens() {
        // Request A prefills a 30-token prompt while request B decodes one
        // token: 31 tokens in the step, 3.1 J.
        let work = [StepWork::new(30, 0), StepWork::new(0, 1)];
        let parts = split(3.1, &work, &TokenWeights::default());
        assert!(close(parts[0], 3.0) && close(parts[1], 0.1), "{parts:?}");
        assert!(close(parts.iter().sum(), 3.1));

        // Both decoding: halves.
        let parts = split(
            2.0,
            &[StepWork::new(0, 1), StepWork::new(0, 1)],
            &TokenWeights::default(),
        );
        assert!(close(parts[0], 1.0) && close(parts[1], 1.0));
    }

    #[test]
    fn weights_shift_the_split() {
        let w = TokenWeights::new(0.5, 1.0).unwrap();
        // A: 10 prefill -> 5, B: 5 decode -> 5: even split.
        let parts = split(8.0, &[StepWork::new(10, 0), StepWork::new(0, 5)], &w);
        assert!(close(parts[0], 4.0) && close(parts[1], 4.0), "{parts:?}");
        // Mixed work within one request.
        let parts = split(9.0, &[StepWork::new(4, 1), StepWork::new(0, 6)], &w);
        assert!(close(parts[0], 3.0) && close(parts[1], 6.0), "{parts:?}");
    }

    #[test]
    fn empty_and_degenerate_steps_charge_nobody() {
        assert!(split(5.0, &[], &TokenWeights::default()).is_empty());
        assert_eq!(
            split(5.0, &[StepWork::default(); 2], &TokenWeights::default()),
            vec![0.0; 2]
        );
        let parts = split(-1.0, &[StepWork::new(1, 0)], &TokenWeights::default());
        assert_eq!(parts, vec![0.0]);
        let parts = split(f64::NAN, &[StepWork::new(1, 0)], &TokenWeights::default());
        assert_eq!(parts, vec![0.0]);
    }

    #[test]
    fn weights_are_validated() {
        assert!(TokenWeights::new(-1.0, 1.0).is_err());
        assert!(TokenWeights::new(1.0, f64::NAN).is_err());
        assert!(TokenWeights::new(0.0, 0.0).is_err());
        assert!(TokenWeights::new(0.0, 1.0).is_ok());
    }

    #[test]
    fn ledger_accumulates_across_steps_and_keeps_idle_apart() {
        let mut ledger: Ledger<u64> = Ledger::default();
        // Step 1: request 1 prefills 9 tokens, request 2 decodes 1.
        ledger.record_step(1.0, &[(1, StepWork::new(9, 0)), (2, StepWork::new(0, 1))]);
        ledger.record_idle(5.0); // engine waiting between steps
                                 // Step 2: both decode.
        ledger.record_step(0.4, &[(1, StepWork::new(0, 1)), (2, StepWork::new(0, 1))]);
        // A step with nothing in it is idle, not charged.
        ledger.record_step(0.3, &[(1, StepWork::default())]);

        assert!(close(ledger.charged(&1), 0.9 + 0.2));
        assert!(close(ledger.charged(&2), 0.1 + 0.2));
        assert!(close(ledger.idle_joules(), 5.3));
        assert!(close(ledger.finish(&1), 1.1));
        assert_eq!(ledger.charged(&1), 0.0);
        assert_eq!(ledger.finish(&1), 0.0);
        assert!(close(ledger.charged(&2), 0.3));
    }

    #[test]
    fn counter_difference() {
        assert!(close(joules_between(1_000_000, 3_500_000), 2.5));
        assert_eq!(joules_between(5, 3), 0.0);
    }
}
