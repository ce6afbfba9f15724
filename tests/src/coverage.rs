//! State coverage of a state machine from its execution histories.
//!
//! Pure: the definition walk ([`Definition::from_asl`]), a history as the few events that
//! matter ([`Event`], from the `GetExecutionHistory` wire JSON or the SDK's type), the
//! states a history entered ([`entered`]), the `Catch`es it took ([`catches_taken`]), and
//! the comparison of all of them with the definition and an allow-list of states the
//! local engine cannot reach ([`Coverage`]). `tests/tests/pipeline_e2e.rs` feeds it every
//! execution of its run (and every Distributed Map child) and fails on
//! [`Coverage::problems`].
//!
//! A history is read as one sequence of states: a state's failure is the failure event
//! between its `…StateEntered` and the next state entered; the `Catch` taken is the one
//! whose `Next` is that next state (the first matching the error name, as Step Functions
//! picks it). Inline Map iterations and their Map state nest (a stack of open states);
//! Parallel branches interleaving Task failures would need the events' `previousEventId`
//! chains instead, which this pipeline does not need (it has no Parallel state).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Value};

/// One `Catch` entry of a state.
#[derive(Debug, Clone, PartialEq)]
pub struct Catcher {
    pub errors: Vec<String>,
    pub next: String,
}

/// One state of the definition, wherever it is nested.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub name: String,
    /// `Parent/Child` for states inside a Map's `ItemProcessor`/`Iterator` or a
    /// Parallel's `Branches`; the name itself at the top level.
    pub path: String,
    /// The ASL `Type`.
    pub kind: String,
    pub catchers: Vec<Catcher>,
}

/// Every state of a definition, in definition order (parents before their children).
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub states: Vec<State>,
}

impl Definition {
    /// Walk `States`, and the nested `States` of Map `ItemProcessor` / `Iterator` and of
    /// Parallel `Branches`. State names must be unique in the whole machine (histories
    /// name states without their parents).
    pub fn from_asl(asl: &Value) -> Result<Definition, String> {
        let mut states = Vec::new();
        walk(asl, "", &mut states)?;
        let mut seen = BTreeSet::new();
        for s in &states {
            if !seen.insert(s.name.as_str()) {
                return Err(format!("state name {:?} is used twice", s.name));
            }
        }
        Ok(Definition { states })
    }

    pub fn get(&self, name: &str) -> Option<&State> {
        self.states.iter().find(|s| s.name == name)
    }
}

fn walk(machine: &Value, parent: &str, out: &mut Vec<State>) -> Result<(), String> {
    let states = machine
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| format!("no States object under {:?}", parent_or_top(parent)))?;
    for (name, s) in states {
        let path = if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent}/{name}")
        };
        let kind = s
            .get("Type")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("state {path} has no Type"))?
            .to_string();
        let mut catchers = Vec::new();
        for c in s
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let next = c
                .get("Next")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("a Catch of {path} has no Next"))?;
            let errors = c
                .get("ErrorEquals")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            catchers.push(Catcher {
                errors,
                next: next.to_string(),
            });
        }
        out.push(State {
            name: name.clone(),
            path: path.clone(),
            kind,
            catchers,
        });
        for key in ["ItemProcessor", "Iterator"] {
            if let Some(inner) = s.get(key) {
                walk(inner, &path, out)?;
            }
        }
        for branch in s
            .get("Branches")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(branch, &path, out)?;
        }
    }
    Ok(())
}

fn parent_or_top(parent: &str) -> &str {
    if parent.is_empty() {
        "the top level"
    } else {
        parent
    }
}

/// What a history event means for coverage.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `…StateEntered`: the state's name.
    Entered(String),
    /// `…StateExited`.
    Exited(String),
    /// A failure (`TaskFailed`, `LambdaFunctionFailed`, `…TimedOut`, `MapRunFailed`, …)
    /// with its error name (empty when the event has none).
    Failed(String),
    /// `…Succeeded`: a retried task that succeeds after all was not caught.
    Succeeded,
    /// Anything else.
    Other,
}

impl Event {
    /// From the API type name and, when present, the state name and the error.
    pub fn classify(kind: &str, state: Option<&str>, error: Option<&str>) -> Event {
        if kind.ends_with("StateEntered") {
            return state.map_or(Event::Other, |s| Event::Entered(s.to_string()));
        }
        if kind.ends_with("StateExited") {
            return state.map_or(Event::Other, |s| Event::Exited(s.to_string()));
        }
        if kind.ends_with("Failed") || kind.ends_with("TimedOut") {
            return Event::Failed(error.unwrap_or_default().to_string());
        }
        if kind.ends_with("Succeeded") {
            return Event::Succeeded;
        }
        Event::Other
    }

    /// From one event as `GetExecutionHistory` returns it on the wire (`type`,
    /// `stateEnteredEventDetails.name`, `<x>EventDetails.error`).
    pub fn from_json(v: &Value) -> Event {
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        let state = ["stateEnteredEventDetails", "stateExitedEventDetails"]
            .iter()
            .find_map(|k| v.get(*k)?.get("name")?.as_str());
        let error = v.as_object().and_then(|o| {
            o.iter()
                .filter(|(k, _)| k.ends_with("EventDetails"))
                .find_map(|(_, d)| d.get("error")?.as_str())
        });
        Event::classify(kind, state, error)
    }

    /// From the SDK's history event.
    pub fn from_sdk(e: &aws_sdk_sfn::types::HistoryEvent) -> Event {
        let state = e
            .state_entered_event_details()
            .map(|d| d.name())
            .or_else(|| e.state_exited_event_details().map(|d| d.name()));
        let error = e
            .task_failed_event_details()
            .and_then(|d| d.error())
            .or_else(|| e.task_timed_out_event_details().and_then(|d| d.error()))
            .or_else(|| e.task_start_failed_event_details().and_then(|d| d.error()))
            .or_else(|| e.task_submit_failed_event_details().and_then(|d| d.error()))
            .or_else(|| {
                e.lambda_function_failed_event_details()
                    .and_then(|d| d.error())
            })
            .or_else(|| {
                e.lambda_function_timed_out_event_details()
                    .and_then(|d| d.error())
            })
            .or_else(|| {
                e.lambda_function_schedule_failed_event_details()
                    .and_then(|d| d.error())
            })
            .or_else(|| {
                e.lambda_function_start_failed_event_details()
                    .and_then(|d| d.error())
            })
            .or_else(|| e.map_run_failed_event_details().and_then(|d| d.error()))
            .or_else(|| e.execution_failed_event_details().and_then(|d| d.error()))
            .or_else(|| e.activity_failed_event_details().and_then(|d| d.error()));
        Event::classify(e.r#type().as_str(), state, error)
    }
}

/// One history: an execution, or one child of a Distributed Map.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// Where it comes from, for the report: `e2e-happy`, `e2e-sweep/TrainingSweep[1]`.
    pub label: String,
    pub events: Vec<Event>,
}

/// The states a history entered, in order.
pub fn entered(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Entered(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

/// A `Catch` a history took.
#[derive(Debug, Clone, PartialEq)]
pub struct CatchTaken {
    pub state: String,
    /// Index into the state's `Catch` list.
    pub catcher: usize,
    pub next: String,
    /// The caught error's name.
    pub error: String,
}

/// Does an `ErrorEquals` name match the error? `States.ALL` matches every error,
/// `States.TaskFailed` every one but the other `States.*` names.
pub fn error_matches(pattern: &str, error: &str) -> bool {
    pattern == "States.ALL"
        || pattern == error
        || (pattern == "States.TaskFailed" && !error.starts_with("States."))
}

/// The catcher of `state` that routes `error` to `next`: the first whose `ErrorEquals`
/// matches and whose `Next` is `next`; failing that, the first whose `Next` is `next`.
fn catcher_for(state: &State, next: &str, error: &str) -> Option<usize> {
    let matching = state
        .catchers
        .iter()
        .position(|c| c.errors.iter().any(|p| error_matches(p, error)));
    match matching {
        Some(i) if state.catchers[i].next == next => Some(i),
        _ => state.catchers.iter().position(|c| c.next == next),
    }
}

/// The `Catch`es a history took: a state whose last outcome was a failure, followed by
/// a state its `Catch` routes to.
pub fn catches_taken(def: &Definition, events: &[Event]) -> Vec<CatchTaken> {
    // Open states, innermost last, each with the error of its last failure (None once
    // it succeeded after a failure, as a retried task does).
    let mut open: Vec<(String, Option<String>)> = Vec::new();
    let mut exited: Option<(String, Option<String>)> = None;
    let mut out = Vec::new();
    for e in events {
        match e {
            Event::Entered(next) => {
                let candidate = exited.take().or_else(|| {
                    // A caught state without an Exited event (AWS emits none for some).
                    if open.last().is_some_and(|(_, f)| f.is_some()) {
                        open.pop()
                    } else {
                        None
                    }
                });
                if let Some((state, Some(error))) = candidate {
                    if let Some(s) = def.get(&state) {
                        if let Some(catcher) = catcher_for(s, next, &error) {
                            out.push(CatchTaken {
                                state,
                                catcher,
                                next: next.clone(),
                                error,
                            });
                        }
                    }
                }
                open.push((next.clone(), None));
            }
            Event::Exited(name) => {
                if let Some(pos) = open.iter().rposition(|(s, _)| s == name) {
                    exited = Some(open.remove(pos));
                }
            }
            Event::Failed(error) => {
                if let Some(top) = open.last_mut() {
                    top.1 = Some(error.clone());
                }
            }
            Event::Succeeded => {
                if let Some(top) = open.last_mut() {
                    top.1 = None;
                }
            }
            Event::Other => {}
        }
    }
    out
}

/// Separates a state from its `Catch`'s `Next` in a catch path's key (no state name has it).
pub const CATCH_ARROW: &str = " -> ";

/// The allow-list: `{"states": {"<state>": "<one-line reason>"}, "catches": {"<state> ->
/// <next>": "<one-line reason>"}}` (`catches` optional; other top-level keys, such as a
/// comment, are ignored). One map: catch paths are keyed by [`CatchCoverage::key`], which
/// has [`CATCH_ARROW`] in it and so never collides with a state's name.
pub fn parse_exceptions(v: &Value) -> Result<BTreeMap<String, String>, String> {
    let states = v
        .get("states")
        .and_then(Value::as_object)
        .ok_or("coverage exceptions: no \"states\" object")?;
    let mut out = BTreeMap::new();
    for (name, reason) in states {
        if name.contains(CATCH_ARROW) {
            return Err(format!(
                "coverage exception {name:?}: a catch path belongs under \"catches\""
            ));
        }
        let reason = reason
            .as_str()
            .ok_or_else(|| format!("coverage exception {name}: the reason must be a string"))?;
        out.insert(name.clone(), reason.to_string());
    }
    let catches = match v.get("catches") {
        None => None,
        Some(c) => Some(
            c.as_object()
                .ok_or("coverage exceptions: \"catches\" must be an object")?,
        ),
    };
    for (key, reason) in catches.into_iter().flatten() {
        if !key.contains(CATCH_ARROW) {
            return Err(format!(
                "coverage exception {key:?}: a catch path is \"<state>{CATCH_ARROW}<next>\""
            ));
        }
        let reason = reason
            .as_str()
            .ok_or_else(|| format!("coverage exception {key}: the reason must be a string"))?;
        out.insert(key.clone(), reason.to_string());
    }
    Ok(out)
}

/// Labels kept per state and per catch path in the report.
const EXAMPLES: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct StateCoverage {
    pub state: State,
    /// Times entered over all histories.
    pub entered: usize,
    /// The first few histories that entered it.
    pub seen_in: Vec<String>,
    /// The allow-list's reason, when listed.
    pub exception: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CatchCoverage {
    /// `<state> -> <next>`, or `<state>[<catcher>] -> <next>` when two of the state's
    /// catchers route to the same state: what the allow-list's `catches` names.
    pub key: String,
    pub state: String,
    pub catcher: usize,
    pub errors: Vec<String>,
    pub next: String,
    pub taken: usize,
    /// The error names caught, each once.
    pub errors_caught: BTreeSet<String>,
    pub seen_in: Vec<String>,
    /// The allow-list's reason, when listed.
    pub exception: Option<String>,
}

/// The definition's states and `Catch` paths against what the histories did.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub histories: usize,
    pub states: Vec<StateCoverage>,
    pub catches: Vec<CatchCoverage>,
    /// States a history entered that the definition does not have.
    pub unknown_entered: BTreeSet<String>,
    /// Allow-list entries naming no state of the definition.
    pub unknown_exceptions: BTreeSet<String>,
}

impl Coverage {
    pub fn new(
        def: &Definition,
        histories: &[History],
        exceptions: &BTreeMap<String, String>,
    ) -> Coverage {
        let mut states: Vec<StateCoverage> = def
            .states
            .iter()
            .map(|s| StateCoverage {
                state: s.clone(),
                entered: 0,
                seen_in: Vec::new(),
                exception: exceptions.get(&s.name).cloned(),
            })
            .collect();
        let mut catches: Vec<CatchCoverage> = def
            .states
            .iter()
            .flat_map(|s| {
                s.catchers.iter().enumerate().map(|(i, c)| {
                    let shared = s.catchers.iter().filter(|o| o.next == c.next).count() > 1;
                    let key = if shared {
                        format!("{}[{i}]{CATCH_ARROW}{}", s.name, c.next)
                    } else {
                        format!("{}{CATCH_ARROW}{}", s.name, c.next)
                    };
                    CatchCoverage {
                        exception: exceptions.get(&key).cloned(),
                        key,
                        state: s.name.clone(),
                        catcher: i,
                        errors: c.errors.clone(),
                        next: c.next.clone(),
                        taken: 0,
                        errors_caught: BTreeSet::new(),
                        seen_in: Vec::new(),
                    }
                })
            })
            .collect();
        let mut unknown_entered = BTreeSet::new();
        for h in histories {
            for name in entered(&h.events) {
                match states.iter_mut().find(|s| s.state.name == name) {
                    Some(s) => {
                        s.entered += 1;
                        if s.seen_in.len() < EXAMPLES && !s.seen_in.contains(&h.label) {
                            s.seen_in.push(h.label.clone());
                        }
                    }
                    None => {
                        unknown_entered.insert(name);
                    }
                }
            }
            for t in catches_taken(def, &h.events) {
                if let Some(c) = catches
                    .iter_mut()
                    .find(|c| c.state == t.state && c.catcher == t.catcher)
                {
                    c.taken += 1;
                    c.errors_caught.insert(t.error);
                    if c.seen_in.len() < EXAMPLES && !c.seen_in.contains(&h.label) {
                        c.seen_in.push(h.label.clone());
                    }
                }
            }
        }
        let unknown_exceptions = exceptions
            .keys()
            .filter(|k| {
                if k.contains(CATCH_ARROW) {
                    !catches.iter().any(|c| &c.key == *k)
                } else {
                    def.get(k).is_none()
                }
            })
            .cloned()
            .collect();
        Coverage {
            histories: histories.len(),
            states,
            catches,
            unknown_entered,
            unknown_exceptions,
        }
    }

    pub fn states_entered(&self) -> usize {
        self.states.iter().filter(|s| s.entered > 0).count()
    }

    pub fn catches_taken(&self) -> usize {
        self.catches.iter().filter(|c| c.taken > 0).count()
    }

    /// Why the run does not cover the definition: a state neither entered nor allowed, a
    /// `Catch` path neither taken nor allowed, an allowed state or path that was entered
    /// or taken after all (the reason is stale), an allow-list entry without a state or
    /// path or without a one-line reason, a history naming a state the definition lacks.
    pub fn problems(&self, exceptions: &BTreeMap<String, String>) -> Vec<String> {
        let mut out = Vec::new();
        for s in &self.states {
            match (&s.exception, s.entered) {
                (None, 0) => out.push(format!(
                    "{} ({}) was never entered and has no entry in the coverage exceptions",
                    s.state.path, s.state.kind
                )),
                (Some(_), n) if n > 0 => out.push(format!(
                    "{} is listed as unreachable but was entered {n} time(s) (in {}): remove its exception",
                    s.state.path,
                    s.seen_in.join(", ")
                )),
                _ => {}
            }
        }
        for c in &self.catches {
            match (&c.exception, c.taken) {
                (None, 0) => out.push(format!(
                    "Catch path {} ({}) was never taken and has no entry in the coverage exceptions' \"catches\"",
                    c.key,
                    c.errors.join(", ")
                )),
                (Some(_), n) if n > 0 => out.push(format!(
                    "Catch path {} is listed as unreachable but was taken {n} time(s) (in {}): remove its exception",
                    c.key,
                    c.seen_in.join(", ")
                )),
                _ => {}
            }
        }
        for name in &self.unknown_exceptions {
            if name.contains(CATCH_ARROW) {
                out.push(format!(
                    "coverage exception {name:?} names no Catch path of the definition"
                ));
            } else {
                out.push(format!(
                    "coverage exception {name:?} names no state of the definition"
                ));
            }
        }
        for (name, reason) in exceptions {
            if reason.trim().is_empty() || reason.contains('\n') {
                out.push(format!(
                    "coverage exception {name:?} needs a one-line reason"
                ));
            }
        }
        for name in &self.unknown_entered {
            out.push(format!(
                "a history entered {name:?}, which the definition does not have"
            ));
        }
        out
    }

    /// `N/M states entered, K/L Catch paths taken` (with the allow-listed count).
    pub fn summary(&self) -> String {
        let excepted = self
            .states
            .iter()
            .filter(|s| s.entered == 0 && s.exception.is_some())
            .count();
        let catches_excepted = self
            .catches
            .iter()
            .filter(|c| c.taken == 0 && c.exception.is_some())
            .count();
        format!(
            "{}/{} states entered ({excepted} allow-listed as unreachable locally), {}/{} Catch paths taken ({catches_excepted} allow-listed), over {} histories",
            self.states_entered(),
            self.states.len(),
            self.catches_taken(),
            self.catches.len(),
            self.histories
        )
    }

    pub fn to_json(&self, exceptions: &BTreeMap<String, String>) -> Value {
        json!({
            "summary": self.summary(),
            "states_total": self.states.len(),
            "states_entered": self.states_entered(),
            "catch_paths_total": self.catches.len(),
            "catch_paths_taken": self.catches_taken(),
            "histories": self.histories,
            "states": self.states.iter().map(|s| json!({
                "name": s.state.name,
                "path": s.state.path,
                "type": s.state.kind,
                "entered": s.entered,
                "status": status(s),
                "seen_in": s.seen_in,
                "exception": s.exception,
            })).collect::<Vec<_>>(),
            "catch_paths": self.catches.iter().map(|c| json!({
                "key": c.key,
                "status": match (c.taken, &c.exception) {
                    (0, Some(_)) => "excepted",
                    (0, None) => "missed",
                    _ => "taken",
                },
                "exception": c.exception,
                "state": c.state,
                "catcher": c.catcher,
                "error_equals": c.errors,
                "next": c.next,
                "taken": c.taken,
                "errors_caught": c.errors_caught,
                "seen_in": c.seen_in,
            })).collect::<Vec<_>>(),
            "problems": self.problems(exceptions),
        })
    }

    pub fn to_markdown(&self) -> String {
        let mut md = format!("# State coverage\n\n{}\n\n", self.summary());
        md.push_str("| state | type | entered | seen in / why not |\n|---|---|---:|---|\n");
        for s in &self.states {
            let why = match (s.entered, &s.exception) {
                (0, Some(r)) => format!("not reachable locally: {r}"),
                (0, None) => "**never entered**".to_string(),
                _ => s.seen_in.join(", "),
            };
            md.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                s.state.path, s.state.kind, s.entered, why
            ));
        }
        md.push_str("\n## Catch paths\n\n| state | ErrorEquals | → | taken | errors caught, seen in / why not |\n|---|---|---|---:|---|\n");
        for c in &self.catches {
            let seen = if c.taken == 0 {
                match &c.exception {
                    Some(r) => format!("not reachable locally: {r}"),
                    None => "**never taken**".to_string(),
                }
            } else {
                format!(
                    "{}; {}",
                    c.errors_caught
                        .iter()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", "),
                    c.seen_in.join(", ")
                )
            };
            md.push_str(&format!(
                "| `{}` | {} | `{}` | {} | {} |\n",
                c.state,
                c.errors.join(", "),
                c.next,
                c.taken,
                seen
            ));
        }
        md
    }
}

fn status(s: &StateCoverage) -> &'static str {
    match (s.entered, &s.exception) {
        (0, Some(_)) => "excepted",
        (0, None) => "missed",
        _ => "entered",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asl() -> Value {
        json!({
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Next": "M",
                      "Retry": [{"ErrorEquals": ["Transient.Throttled"]}],
                      "Catch": [{"ErrorEquals": ["Approval.Rejected"], "Next": "Undo"},
                                {"ErrorEquals": ["States.ALL"], "Next": "Undo"}]},
                "M": {"Type": "Map", "Next": "P",
                      "ItemProcessor": {"StartAt": "Inner", "States": {
                          "Inner": {"Type": "Task", "End": true,
                                    "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Fix"}]},
                          "Fix": {"Type": "Pass", "End": true}}},
                      "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}]},
                "P": {"Type": "Parallel", "Next": "Done",
                      "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "End": true}}}]},
                "Done": {"Type": "Succeed"},
                "Undo": {"Type": "Pass", "Next": "Failed"},
                "Failed": {"Type": "Fail"}
            }
        })
    }

    fn def() -> Definition {
        Definition::from_asl(&asl()).unwrap()
    }

    fn ev(kind: &str, name: Option<&str>, error: Option<&str>) -> Event {
        Event::classify(kind, name, error)
    }

    fn enter(n: &str) -> Event {
        ev("TaskStateEntered", Some(n), None)
    }

    fn exit(n: &str) -> Event {
        ev("TaskStateExited", Some(n), None)
    }

    fn fail(e: &str) -> Event {
        ev("TaskFailed", None, Some(e))
    }

    #[test]
    fn the_walk_finds_nested_states_with_their_parents_and_catchers() {
        let d = def();
        let paths: Vec<&str> = d.states.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            ["A", "M", "M/Inner", "M/Fix", "P", "P/B1", "Done", "Undo", "Failed"]
        );
        let a = d.get("A").unwrap();
        assert_eq!(a.kind, "Task");
        assert_eq!(a.catchers.len(), 2);
        assert_eq!(a.catchers[0].errors, ["Approval.Rejected"]);
        assert_eq!(d.get("Inner").unwrap().catchers[0].next, "Fix");
        // The legacy Iterator is walked like ItemProcessor.
        let mut old = asl();
        let inner = old["States"]["M"]
            .as_object_mut()
            .unwrap()
            .remove("ItemProcessor")
            .unwrap();
        old["States"]["M"]["Iterator"] = inner;
        assert_eq!(Definition::from_asl(&old).unwrap(), d);
    }

    #[test]
    fn the_walk_refuses_duplicate_names_and_missing_parts() {
        let mut dup = asl();
        dup["States"]["M"]["ItemProcessor"]["States"]["Undo"] =
            json!({"Type": "Pass", "End": true});
        assert!(Definition::from_asl(&dup)
            .unwrap_err()
            .contains("\"Undo\" is used twice"));
        assert!(Definition::from_asl(&json!({"StartAt": "A"})).is_err());
        let mut no_type = asl();
        no_type["States"]["Done"] = json!({});
        assert!(Definition::from_asl(&no_type)
            .unwrap_err()
            .contains("Done has no Type"));
    }

    #[test]
    fn events_are_read_from_the_wire_json_and_from_the_sdk() {
        use aws_sdk_sfn::types::{
            HistoryEvent, HistoryEventType, LambdaFunctionFailedEventDetails,
            StateEnteredEventDetails,
        };
        let wire = json!({"id": 9, "previousEventId": 8, "type": "LambdaFunctionFailed",
                          "lambdaFunctionFailedEventDetails": {"error": "Stub.TaskFailed", "cause": "{}"}});
        assert_eq!(
            Event::from_json(&wire),
            Event::Failed("Stub.TaskFailed".into())
        );
        let entered =
            json!({"type": "ChoiceStateEntered", "stateEnteredEventDetails": {"name": "Gate"}});
        assert_eq!(Event::from_json(&entered), Event::Entered("Gate".into()));
        assert_eq!(
            Event::from_json(&json!({"type": "MapRunFailed"})),
            Event::Failed(String::new())
        );
        assert_eq!(
            Event::from_json(&json!({"type": "TaskScheduled"})),
            Event::Other
        );
        assert_eq!(
            Event::from_json(&json!({"type": "TaskSucceeded"})),
            Event::Succeeded
        );
        let t = chrono::Utc::now();
        let base = || {
            HistoryEvent::builder()
                .id(1)
                .timestamp(aws_smithy_types::DateTime::from_secs(t.timestamp()))
        };
        let sdk_enter = base()
            .r#type(HistoryEventType::MapStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name("TrainingSweep")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            Event::from_sdk(&sdk_enter),
            Event::Entered("TrainingSweep".into())
        );
        let sdk_fail = base()
            .r#type(HistoryEventType::LambdaFunctionFailed)
            .lambda_function_failed_event_details(
                LambdaFunctionFailedEventDetails::builder()
                    .error("Pipeline.NoCandidate")
                    .build(),
            )
            .build()
            .unwrap();
        assert_eq!(
            Event::from_sdk(&sdk_fail),
            Event::Failed("Pipeline.NoCandidate".into())
        );
    }

    #[test]
    fn a_failure_followed_by_a_catch_target_is_a_catch_taken() {
        let d = def();
        let h = [
            enter("A"),
            fail("Approval.Rejected"),
            exit("A"),
            enter("Undo"),
        ];
        assert_eq!(
            catches_taken(&d, &h),
            [CatchTaken {
                state: "A".into(),
                catcher: 0,
                next: "Undo".into(),
                error: "Approval.Rejected".into()
            }]
        );
        // Another error goes through the States.ALL catcher (same Next, other path).
        let h = [
            enter("A"),
            fail("Approval.InvalidRequest"),
            exit("A"),
            enter("Undo"),
        ];
        assert_eq!(catches_taken(&d, &h)[0].catcher, 1);
        // Without a StateExited after the failure, too.
        let h = [enter("A"), fail("X"), enter("Undo")];
        assert_eq!(catches_taken(&d, &h).len(), 1);
    }

    #[test]
    fn retried_successes_and_plain_transitions_are_not_catches() {
        let d = def();
        // Failed, retried, succeeded, then its Next: no catch.
        let h = [
            enter("A"),
            fail("Transient.Throttled"),
            ev("TaskScheduled", None, None),
            ev("TaskSucceeded", None, None),
            exit("A"),
            enter("M"),
        ];
        assert!(catches_taken(&d, &h).is_empty());
        // A success into a state that is also a catch target: no catch either.
        let h = [enter("A"), exit("A"), enter("Undo")];
        assert!(catches_taken(&d, &h).is_empty());
        // A failure, then a state no Catch routes to (the Next after a Retry): none.
        let h = [enter("A"), fail("X"), exit("A"), enter("M")];
        assert!(catches_taken(&d, &h).is_empty());
    }

    #[test]
    fn nested_states_fail_into_their_own_catch_and_the_map_into_its_own() {
        let d = def();
        let h = [
            ev("MapStateEntered", Some("M"), None),
            ev("MapIterationStarted", None, None),
            enter("Inner"),
            ev("LambdaFunctionFailed", None, Some("Stub.TaskFailed")),
            exit("Inner"),
            ev("PassStateEntered", Some("Fix"), None),
            ev("PassStateExited", Some("Fix"), None),
            ev("MapIterationFailed", None, Some("States.Runtime")),
            ev("MapStateFailed", None, None),
            ev("MapStateExited", Some("M"), None),
            ev("PassStateEntered", Some("Undo"), None),
        ];
        let taken: Vec<(String, String)> = catches_taken(&d, &h)
            .into_iter()
            .map(|t| (t.state, t.next))
            .collect();
        assert_eq!(
            taken,
            [
                ("Inner".to_string(), "Fix".to_string()),
                ("M".to_string(), "Undo".to_string())
            ]
        );
    }

    #[test]
    fn error_matching_follows_the_states_names() {
        assert!(error_matches("States.ALL", "States.Timeout"));
        assert!(error_matches("States.TaskFailed", "Stub.TaskFailed"));
        assert!(error_matches("States.TaskFailed", "States.TaskFailed"));
        assert!(!error_matches("States.TaskFailed", "States.Timeout"));
        assert!(error_matches("Approval.Rejected", "Approval.Rejected"));
        assert!(!error_matches(
            "Approval.Rejected",
            "Approval.InvalidRequest"
        ));
    }

    fn history(label: &str, states: &[&str]) -> History {
        History {
            label: label.into(),
            events: states.iter().map(|s| enter(s)).collect(),
        }
    }

    #[test]
    fn coverage_lists_entered_missed_and_excepted_states() {
        let d = def();
        let runs = [
            history("run-1", &["A", "M", "P", "B1", "Done"]),
            History {
                label: "run-1/M[0]".into(),
                events: vec![
                    enter("Inner"),
                    fail("Stub.TaskFailed"),
                    exit("Inner"),
                    enter("Fix"),
                ],
            },
            history("run-2", &["A", "Undo", "Failed"]),
        ];
        // The catches this test does not take (A's two into Undo share the target, so
        // their keys carry the catcher's index).
        let none: BTreeMap<String, String> = ["A[0] -> Undo", "A[1] -> Undo", "M -> Undo"]
            .map(|k| (k.to_string(), "not in this test".to_string()))
            .into();
        let c = Coverage::new(&d, &runs, &none);
        assert_eq!(c.states_entered(), 9);
        assert!(c.problems(&none).is_empty(), "{:?}", c.problems(&none));
        let a = c.states.iter().find(|s| s.state.name == "A").unwrap();
        assert_eq!(
            (a.entered, a.seen_in.clone()),
            (2, vec!["run-1".to_string(), "run-2".to_string()])
        );
        assert_eq!(c.catches_taken(), 1);
        let inner = c.catches.iter().find(|k| k.state == "Inner").unwrap();
        assert_eq!(inner.seen_in, ["run-1/M[0]"]);
        assert_eq!(
            inner.errors_caught.iter().collect::<Vec<_>>(),
            ["Stub.TaskFailed"]
        );
        assert!(
            c.summary().starts_with("9/9 states entered"),
            "{}",
            c.summary()
        );

        // Without the second run: Undo and Failed are missed unless allow-listed.
        let c = Coverage::new(&d, &runs[..2], &none);
        let problems = c.problems(&none);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("Undo (Pass) was never entered"),
            "{problems:?}"
        );
        let mut allowed = none.clone();
        allowed.insert("Undo".to_string(), "needs a failure".to_string());
        allowed.insert("Failed".to_string(), "needs a failure".to_string());
        let c = Coverage::new(&d, &runs[..2], &allowed);
        assert!(c.problems(&allowed).is_empty());
        assert!(c.summary().contains("(2 allow-listed"), "{}", c.summary());
        let report = c.to_json(&allowed);
        assert_eq!(report["states_entered"], 7);
        assert_eq!(report["states_total"], 9);
        let undo = report["states"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "Undo")
            .unwrap();
        assert_eq!(undo["status"], "excepted");
        assert!(c
            .to_markdown()
            .contains("| `Undo` | Pass | 0 | not reachable locally: needs a failure |"));
    }

    #[test]
    fn stale_unknown_and_reasonless_exceptions_are_problems() {
        let d = def();
        let runs = [history(
            "run",
            &[
                "A", "M", "Inner", "Fix", "P", "B1", "Done", "Undo", "Failed", "Ghost",
            ],
        )];
        let ex: BTreeMap<String, String> = [
            ("Undo".to_string(), "cannot happen".to_string()),
            ("Nowhere".to_string(), "x".to_string()),
            ("Fix".to_string(), "two\nlines".to_string()),
        ]
        .into();
        let problems = Coverage::new(&d, &runs, &ex).problems(&ex);
        let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
        assert!(
            has("Undo is listed as unreachable but was entered 1 time(s) (in run)"),
            "{problems:?}"
        );
        assert!(has("\"Nowhere\" names no state"), "{problems:?}");
        assert!(has("\"Fix\" needs a one-line reason"), "{problems:?}");
        assert!(
            has("entered \"Ghost\", which the definition does not have"),
            "{problems:?}"
        );
    }

    #[test]
    fn exceptions_are_read_from_the_states_object() {
        let v = json!({"comment": "why", "states": {"A": "local engine: no X"}});
        assert_eq!(
            parse_exceptions(&v).unwrap(),
            BTreeMap::from([("A".to_string(), "local engine: no X".to_string())])
        );
        assert!(parse_exceptions(&json!({"A": "x"})).is_err());
        assert!(parse_exceptions(&json!({"states": {"A": 1}})).is_err());
        let v = json!({"states": {}, "catches": {"A -> B": "no way to fail A"}});
        assert_eq!(
            parse_exceptions(&v).unwrap(),
            BTreeMap::from([("A -> B".to_string(), "no way to fail A".to_string())])
        );
        assert!(parse_exceptions(&json!({"states": {}, "catches": {"A": "x"}})).is_err());
        assert!(parse_exceptions(&json!({"states": {"A -> B": "x"}})).is_err());
        assert!(parse_exceptions(&json!({"states": {}, "catches": []})).is_err());
    }

    #[test]
    fn catch_paths_neither_taken_nor_listed_are_problems_and_stale_ones_too() {
        let d = def();
        let runs = [History {
            label: "run".into(),
            events: vec![
                enter("A"),
                fail("Approval.Rejected"),
                exit("A"),
                enter("Undo"),
            ],
        }];
        let keys: Vec<String> = Coverage::new(&d, &runs, &BTreeMap::new())
            .catches
            .iter()
            .map(|c| c.key.clone())
            .collect();
        assert_eq!(
            keys,
            ["A[0] -> Undo", "A[1] -> Undo", "M -> Undo", "Inner -> Fix"]
        );
        let none = BTreeMap::new();
        let c = Coverage::new(&d, &runs, &none);
        let problems = c.problems(&none);
        let has = |p: &[String], needle: &str| p.iter().any(|x| x.contains(needle));
        assert!(
            has(
                &problems,
                "Catch path A[1] -> Undo (States.ALL) was never taken"
            ),
            "{problems:?}"
        );
        assert!(
            has(&problems, "Catch path Inner -> Fix (States.TaskFailed)"),
            "{problems:?}"
        );
        assert!(!has(&problems, "A[0] -> Undo"), "{problems:?}");
        assert!(c.to_markdown().contains("**never taken**"));

        let ex: BTreeMap<String, String> = [
            ("A[0] -> Undo", "stale"),
            ("A[1] -> Undo", "no way to fail A with another error"),
            ("M -> Undo", "no way to fail M"),
            ("Inner -> Fix", "no way to fail Inner"),
            ("Nowhere -> Undo", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let c = Coverage::new(&d, &runs, &ex);
        // (The states this history did not enter are problems too; not the point here.)
        let problems: Vec<String> = c
            .problems(&ex)
            .into_iter()
            .filter(|p| p.contains(CATCH_ARROW))
            .collect();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            has(
                &problems,
                "Catch path A[0] -> Undo is listed as unreachable but was taken 1 time(s) (in run)"
            ),
            "{problems:?}"
        );
        assert!(
            has(&problems, "\"Nowhere -> Undo\" names no Catch path"),
            "{problems:?}"
        );
        assert!(
            c.summary()
                .contains("1/4 Catch paths taken (3 allow-listed)"),
            "{}",
            c.summary()
        );
        let report = c.to_json(&ex);
        let m = report["catch_paths"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["key"] == "M -> Undo")
            .unwrap();
        assert_eq!(
            (m["status"].as_str(), m["exception"].as_str()),
            (Some("excepted"), Some("no way to fail M"))
        );
        assert!(c.to_markdown().contains(
            "| `M` | States.ALL | `Undo` | 0 | not reachable locally: no way to fail M |"
        ));
    }

    #[test]
    fn the_shipped_definition_walks() {
        let root = crate::workspace_root();
        let text = std::fs::read_to_string(root.join("statemachine/pipeline.asl.json")).unwrap();
        let d = Definition::from_asl(&serde_json::from_str(&text).unwrap()).unwrap();
        // Nested states are found, with their parents.
        assert_eq!(d.get("Train").unwrap().path, "TrainingSweep/Train");
        assert_eq!(
            d.get("ValidateObject").unwrap().path,
            "ValidateSchemaDistributed/ValidateObject"
        );
        assert_eq!(d.get("Train").unwrap().catchers[0].next, "AdjustBatchSize");
    }
}
