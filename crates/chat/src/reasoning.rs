//! Splitting a reasoning model's output into its thinking and its answer.
//!
//! DeepSeek-R1 and its distills write `<think> ... </think>` before the
//! answer. The splitter works on streamed text: a tag cut across two chunks
//! is held back until it is whole, so a client never sees half a tag, and the
//! concatenation of all deltas equals the split of the whole text.

/// Opening reasoning tag.
pub const THINK_START: &str = "<think>";
/// Closing reasoning tag.
pub const THINK_END: &str = "</think>";

/// Text to append to the reasoning and to the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReasoningDelta {
    pub reasoning: String,
    pub content: String,
}

impl ReasoningDelta {
    pub fn is_empty(&self) -> bool {
        self.reasoning.is_empty() && self.content.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing but whitespace seen yet: the output may still open `<think>`.
    Start,
    Reasoning,
    /// Just after `</think>`: whitespace before the answer is dropped.
    AfterReasoning,
    Content,
}

/// A streaming splitter; feed it text with [`push`](Self::push), then call
/// [`finish`](Self::finish).
#[derive(Debug, Clone)]
pub struct ReasoningSplitter {
    state: State,
    pending: String,
}

impl ReasoningSplitter {
    /// A splitter for output that may open with `<think>`.
    pub fn new() -> Self {
        ReasoningSplitter {
            state: State::Start,
            pending: String::new(),
        }
    }

    /// A splitter for output whose prompt already opened `<think>` (some
    /// templates end the generation prompt with it): the output starts in
    /// the reasoning.
    pub fn for_prompt(prompt: &str) -> Self {
        let mut s = Self::new();
        if prompt.trim_end().ends_with(THINK_START) {
            s.state = State::Reasoning;
        }
        s
    }

    /// Adds `text`; returns what can be released now.
    pub fn push(&mut self, text: &str) -> ReasoningDelta {
        self.pending.push_str(text);
        let mut out = ReasoningDelta::default();
        loop {
            match self.state {
                State::Start => {
                    let trimmed = self.pending.trim_start();
                    if let Some(rest) = trimmed.strip_prefix(THINK_START) {
                        self.pending = rest.to_string();
                        self.state = State::Reasoning;
                    } else if trimmed.is_empty() || THINK_START.starts_with(trimmed) {
                        return out; // could still become "<think>"
                    } else {
                        self.state = State::Content;
                    }
                }
                State::Reasoning => match self.pending.find(THINK_END) {
                    Some(i) => {
                        out.reasoning.push_str(&self.pending[..i]);
                        self.pending.drain(..i + THINK_END.len());
                        self.state = State::AfterReasoning;
                    }
                    None => {
                        let keep = partial_suffix(&self.pending, THINK_END);
                        let release = self.pending.len() - keep;
                        out.reasoning.push_str(&self.pending[..release]);
                        self.pending.drain(..release);
                        return out;
                    }
                },
                State::AfterReasoning => {
                    let trimmed = self.pending.trim_start();
                    if trimmed.is_empty() {
                        self.pending.clear();
                        return out;
                    }
                    self.pending = trimmed.to_string();
                    self.state = State::Content;
                }
                State::Content => {
                    out.content.push_str(&self.pending);
                    self.pending.clear();
                    return out;
                }
            }
        }
    }

    /// Releases whatever was held back waiting for a tag that never came.
    pub fn finish(&mut self) -> ReasoningDelta {
        let rest = std::mem::take(&mut self.pending);
        let mut out = ReasoningDelta::default();
        match self.state {
            State::Reasoning => out.reasoning = rest,
            State::Start | State::Content => out.content = rest,
            State::AfterReasoning => {}
        }
        out
    }

    /// Splits a whole text at once.
    pub fn split(text: &str, prompt: &str) -> ReasoningDelta {
        let mut s = Self::for_prompt(prompt);
        let mut a = s.push(text);
        let b = s.finish();
        a.reasoning.push_str(&b.reasoning);
        a.content.push_str(&b.content);
        a
    }
}

impl Default for ReasoningSplitter {
    fn default() -> Self {
        Self::new()
    }
}

/// Length of the longest suffix of `text` that is a proper prefix of `tag`
/// (a tag that may be completed by the next chunk).
fn partial_suffix(text: &str, tag: &str) -> usize {
    (1..tag.len().min(text.len() + 1))
        .rev()
        .find(|&n| text.is_char_boundary(text.len() - n) && tag.starts_with(&text[text.len() - n..]))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn splits_reasoning_from_answer() {
        let d = ReasoningSplitter::split("<think>\nLet me see.\n</think>\n\nParis.", "");
        assert_eq!(d.reasoning, "\nLet me see.\n");
        assert_eq!(d.content, "Paris.");
    }

    #[test]
    fn plain_answers_are_content() {
        let d = ReasoningSplitter::split("Just an answer <think> inside", "");
        assert_eq!(d.reasoning, "");
        assert_eq!(d.content, "Just an answer <think> inside");
    }

    #[test]
    fn prompt_that_opened_the_tag_starts_in_reasoning() {
        let d = ReasoningSplitter::split("hmm\n</think>\nYes.", "<｜Assistant｜><think>\n");
        assert_eq!(d.reasoning, "hmm\n");
        assert_eq!(d.content, "Yes.");
    }

    #[test]
    fn unfinished_reasoning_stays_reasoning() {
        let d = ReasoningSplitter::split("<think>still thinking </thi", "");
        assert_eq!(d.reasoning, "still thinking </thi");
        assert_eq!(d.content, "");
    }

    #[test]
    fn tags_split_across_chunks_are_never_leaked() {
        let mut s = ReasoningSplitter::new();
        let mut all = ReasoningDelta::default();
        for chunk in ["<th", "ink>a", "b</", "thi", "nk>", " c"] {
            let d = s.push(chunk);
            assert!(!d.reasoning.contains('<') && !d.content.contains('<'), "{d:?}");
            all.reasoning += &d.reasoning;
            all.content += &d.content;
        }
        let d = s.finish();
        all.reasoning += &d.reasoning;
        all.content += &d.content;
        assert_eq!(all.reasoning, "ab");
        assert_eq!(all.content, "c");
    }

    proptest! {
        /// Any chunking of a text gives the same split as the whole text.
        #[test]
        fn chunking_does_not_change_the_split(
            parts in prop::collection::vec(prop::sample::select(vec!["<think>", "</think>", "a", "é", " ", "\n", "<", "</", "think", ">", "日本"]), 0..24),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
        ) {
            let text: String = parts.concat();
            let whole = ReasoningSplitter::split(&text, "");
            let mut bounds: Vec<usize> = cuts.iter().map(|i| i.index(text.len() + 1)).filter(|&b| text.is_char_boundary(b)).collect();
            bounds.push(0);
            bounds.push(text.len());
            bounds.sort_unstable();
            let mut s = ReasoningSplitter::new();
            let mut got = ReasoningDelta::default();
            for w in bounds.windows(2) {
                let d = s.push(&text[w[0]..w[1]]);
                got.reasoning += &d.reasoning;
                got.content += &d.content;
            }
            let d = s.finish();
            got.reasoning += &d.reasoning;
            got.content += &d.content;
            prop_assert_eq!(got, whole);
        }
    }
}
