//! Joins streamed tool-call fragments into whole calls.
//!
//! Providers differ: most key fragments by `index`, some omit it, some send a whole call in
//! one fragment, and some send empty or duplicate ids for parallel calls. Every call gets a
//! unique id here, and that id is used everywhere after (UI stream, tool message, history).

use super::ToolCallFragment;

/// A tool call being assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCall {
    /// Unique call id.
    pub id: String,
    /// Tool name.
    pub name: String,
    /// Arguments text received so far.
    pub arguments: String,
    index: Option<u32>,
    provider_id: Option<String>,
    announced: bool,
}

/// What a fragment changed, for streaming to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallUpdate {
    /// A call's name is known; it can be shown.
    Started {
        /// Call id.
        id: String,
        /// Tool name.
        name: String,
    },
    /// More argument text for a started call.
    ArgumentsDelta {
        /// Call id.
        id: String,
        /// The new text.
        delta: String,
    },
}

/// Accumulates the tool calls of one model step.
#[derive(Debug, Default)]
pub struct ToolCallAccumulator {
    calls: Vec<PendingCall>,
    used_ids: Vec<String>,
    id_prefix: String,
    generated: u32,
}

impl ToolCallAccumulator {
    /// Creates an accumulator whose generated ids start with `id_prefix`.
    pub fn new(id_prefix: impl Into<String>) -> Self {
        Self {
            id_prefix: id_prefix.into(),
            ..Self::default()
        }
    }

    /// Whether no call has been seen.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes one fragment and reports what became visible.
    pub fn push(&mut self, fragment: ToolCallFragment, out: &mut Vec<CallUpdate>) {
        let slot = self.slot_for(&fragment);
        let call = &mut self.calls[slot];
        if call.provider_id.is_none() {
            call.provider_id = fragment.id.filter(|id| !id.is_empty());
        }
        if call.name.is_empty() {
            if let Some(name) = fragment.name.filter(|n| !n.is_empty()) {
                call.name = name;
            }
        }
        call.arguments.push_str(&fragment.arguments);
        if !call.announced && !call.name.is_empty() {
            let id = self.unique_id(slot);
            let call = &mut self.calls[slot];
            call.id = id.clone();
            call.announced = true;
            out.push(CallUpdate::Started {
                id: id.clone(),
                name: call.name.clone(),
            });
            if !call.arguments.is_empty() {
                out.push(CallUpdate::ArgumentsDelta {
                    id,
                    delta: call.arguments.clone(),
                });
            }
        } else if call.announced && !fragment.arguments.is_empty() {
            out.push(CallUpdate::ArgumentsDelta {
                id: call.id.clone(),
                delta: fragment.arguments,
            });
        }
    }

    /// Ends the step: the calls that got a name, in order.
    pub fn finish(self) -> Vec<PendingCall> {
        self.calls.into_iter().filter(|c| c.announced).collect()
    }

    fn slot_for(&mut self, fragment: &ToolCallFragment) -> usize {
        if let Some(index) = fragment.index {
            if let Some(pos) = self.calls.iter().position(|c| c.index == Some(index)) {
                return pos;
            }
            return self.open(Some(index));
        }
        // Without an index, a named fragment after a call that already has arguments starts a
        // new call (one-shot providers); anything else continues the last call.
        match self.calls.last() {
            Some(last)
                if fragment.name.as_deref().is_some_and(|n| !n.is_empty())
                    && !last.arguments.is_empty() =>
            {
                self.open(None)
            }
            Some(_) => self.calls.len() - 1,
            None => self.open(None),
        }
    }

    fn open(&mut self, index: Option<u32>) -> usize {
        self.calls.push(PendingCall {
            id: String::new(),
            name: String::new(),
            arguments: String::new(),
            index,
            provider_id: None,
            announced: false,
        });
        self.calls.len() - 1
    }

    fn unique_id(&mut self, slot: usize) -> String {
        if let Some(id) = self.calls[slot].provider_id.clone() {
            if !self.used_ids.contains(&id) {
                self.used_ids.push(id.clone());
                return id;
            }
        }
        loop {
            self.generated += 1;
            let id = format!("{}{}", self.id_prefix, self.generated);
            if !self.used_ids.contains(&id) {
                self.used_ids.push(id.clone());
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(
        index: Option<u32>,
        id: Option<&str>,
        name: Option<&str>,
        args: &str,
    ) -> ToolCallFragment {
        ToolCallFragment {
            index,
            id: id.map(str::to_owned),
            name: name.map(str::to_owned),
            arguments: args.to_owned(),
        }
    }

    fn run(fragments: Vec<ToolCallFragment>) -> (Vec<CallUpdate>, Vec<PendingCall>) {
        let mut acc = ToolCallAccumulator::new("call_gen_");
        let mut updates = Vec::new();
        for f in fragments {
            acc.push(f, &mut updates);
        }
        (updates, acc.finish())
    }

    #[test]
    fn joins_indexed_fragments() {
        let (updates, calls) = run(vec![
            frag(Some(0), Some("call_abc"), Some("get_weather"), ""),
            frag(Some(0), None, None, "{\"ci"),
            frag(Some(0), None, None, "ty\":\"Paris\"}"),
            frag(Some(1), Some("call_def"), Some("get_time"), "{}"),
        ]);
        assert_eq!(calls.len(), 2);
        assert_eq!(
            (
                calls[0].id.as_str(),
                calls[0].name.as_str(),
                calls[0].arguments.as_str()
            ),
            ("call_abc", "get_weather", "{\"city\":\"Paris\"}")
        );
        assert_eq!(
            (calls[1].id.as_str(), calls[1].arguments.as_str()),
            ("call_def", "{}")
        );
        assert_eq!(
            updates[0],
            CallUpdate::Started {
                id: "call_abc".into(),
                name: "get_weather".into()
            }
        );
        assert_eq!(
            updates[1],
            CallUpdate::ArgumentsDelta {
                id: "call_abc".into(),
                delta: "{\"ci".into()
            }
        );
        assert_eq!(
            updates[4],
            CallUpdate::ArgumentsDelta {
                id: "call_def".into(),
                delta: "{}".into()
            }
        );
    }

    #[test]
    fn interleaved_parallel_calls_stay_apart() {
        let (_, calls) = run(vec![
            frag(Some(0), Some("a"), Some("one"), "{\"x\":"),
            frag(Some(1), Some("b"), Some("two"), "{\"y\":"),
            frag(Some(0), None, None, "1}"),
            frag(Some(1), None, None, "2}"),
        ]);
        assert_eq!(calls[0].arguments, "{\"x\":1}");
        assert_eq!(calls[1].arguments, "{\"y\":2}");
    }

    #[test]
    fn missing_index_appends_to_last_call() {
        let (_, calls) = run(vec![
            frag(None, Some("c1"), Some("t"), ""),
            frag(None, None, None, "{\"a\""),
            frag(None, None, None, ":1}"),
        ]);
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].arguments, "{\"a\":1}");
    }

    #[test]
    fn one_shot_calls_without_index_are_separate() {
        let (_, calls) = run(vec![
            frag(None, Some("x"), Some("a"), "{\"q\":1}"),
            frag(None, Some("y"), Some("b"), "{\"q\":2}"),
        ]);
        assert_eq!(calls.len(), 2);
        assert_eq!(calls[1].name, "b");
    }

    #[test]
    fn duplicate_and_empty_ids_are_replaced() {
        let (_, calls) = run(vec![
            frag(Some(0), Some("dup"), Some("a"), "{}"),
            frag(Some(1), Some("dup"), Some("b"), "{}"),
            frag(Some(2), Some(""), Some("c"), "{}"),
            frag(Some(3), None, Some("d"), "{}"),
        ]);
        let ids: Vec<&str> = calls.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, vec!["dup", "call_gen_1", "call_gen_2", "call_gen_3"]);
    }

    #[test]
    fn name_arriving_late_announces_buffered_arguments() {
        let (updates, calls) = run(vec![
            frag(Some(0), Some("c"), None, "{\"a\":"),
            frag(Some(0), None, Some("late"), "1}"),
        ]);
        assert_eq!(calls[0].name, "late");
        assert_eq!(
            updates,
            vec![
                CallUpdate::Started {
                    id: "c".into(),
                    name: "late".into()
                },
                CallUpdate::ArgumentsDelta {
                    id: "c".into(),
                    delta: "{\"a\":1}".into()
                },
            ]
        );
    }

    #[test]
    fn nameless_calls_are_dropped() {
        let (updates, calls) = run(vec![frag(Some(0), Some("c"), None, "{}")]);
        assert!(updates.is_empty());
        assert!(calls.is_empty());
    }
}
