//! A human-readable rendering of a snapshot, for servers to print at exit:
//! a table of figure, value and unit, named as the fields are, and a
//! one-line legend.

use std::fmt;
use std::time::Duration;

use super::MetricsSnapshot;

/// One row: figure, value, unit (or what the value counts).
struct Row<'a>(&'a str, String, std::borrow::Cow<'a, str>);

fn row<'a>(name: &'a str, value: String, unit: &'a str) -> Row<'a> {
    Row(name, value, unit.into())
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = self.backend.map_or("mixed".to_string(), |b| b.to_string());
        let lag = &self.loop_lag;
        let c2p = &self.completion_to_poll;
        let b = &self.blocking;
        let ops = if self.ops_by_opcode.is_empty() {
            "-".to_string()
        } else {
            self.ops_by_opcode
                .iter()
                .map(|o| format!("{} {}", o.name, o.completed))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (longest, longest_at) = match &self.longest_poll {
            Some(p) => (
                ms(p.duration),
                format!("ms, task spawned at {}", p.spawned_at),
            ),
            None => ("-".into(), "ms".into()),
        };
        let rows = [
            row("loop turns", self.loop_iterations.to_string(), "turns"),
            row(
                "utilization (ELU)",
                format!("{:.1}", self.elu() * 100.0),
                "% of wall time busy, not parked",
            ),
            row(
                "busy / parked",
                format!(
                    "{:.3} / {:.3}",
                    self.busy.as_secs_f64(),
                    self.parked.as_secs_f64()
                ),
                "s",
            ),
            row(
                "empty wakes / spins",
                format!("{} / {}", self.empty_wakes, self.spins),
                "wakes for nothing / spin reports",
            ),
            row(
                "events per turn p50/p99/max",
                format!(
                    "{}/{}/{}",
                    self.events_per_turn.p50(),
                    self.events_per_turn.p99(),
                    self.events_per_turn.max()
                ),
                "CQEs or epoll events",
            ),
            row(
                "tasks per turn p50/p99/max",
                format!(
                    "{}/{}/{}",
                    self.tasks_per_turn.p50(),
                    self.tasks_per_turn.p99(),
                    self.tasks_per_turn.max()
                ),
                "polls",
            ),
            row(
                "tasks spawned / finished / alive",
                format!(
                    "{} / {} / {}",
                    self.tasks_spawned, self.tasks_completed, self.tasks_alive
                ),
                "tasks",
            ),
            row("task polls", self.tasks_polled.to_string(), "polls"),
            row(
                "ops completed / started",
                format!("{} / {}", self.ops_completed, self.ops_submitted),
                "operations",
            ),
            row(
                "ops on a fallback path",
                self.ops_fallback.to_string(),
                "operations (readiness or pool)",
            ),
            row(
                "pool-path ops done inline from caches",
                self.ops_cached_inline.to_string(),
                "operations",
            ),
            row(
                "syscalls: wait + io",
                format!("{} + {}", self.wait_syscalls, self.io_syscalls),
                "syscalls",
            ),
            row(
                "syscalls per op",
                format!("{:.3}", self.syscalls_per_op()),
                "syscalls / op completed",
            ),
            row(
                "loop lag p50/p99/p999/max",
                format!(
                    "{}/{}/{}/{}",
                    us(lag.p50()),
                    us(lag.p99()),
                    us(lag.p999()),
                    us(lag.max())
                ),
                "µs",
            ),
            row(
                "completion to poll p50/p99/max",
                format!("{}/{}/{}", us(c2p.p50()), us(c2p.p99()), us(c2p.max())),
                "µs",
            ),
            Row("longest poll", longest, longest_at.into()),
            row(
                "stalls (with backtrace)",
                format!("{} ({})", self.stalls, self.stall_backtraces),
                "polls over the stall threshold",
            ),
            row(
                "timers armed / fired",
                format!("{} / {}", self.timers_armed, self.timers_fired),
                "timers",
            ),
            row("remote wakes", self.remote_wakes.to_string(), "wakes"),
            row(
                "cancels retried",
                self.cancel_retries.to_string(),
                "cancels",
            ),
            row(
                "blocking pool threads alive / busy",
                format!("{} / {}", b.threads_alive, b.threads_busy),
                "threads",
            ),
            row(
                "blocking pool jobs queued / done / refused",
                format!(
                    "{} / {} / {}",
                    b.queue_depth, b.jobs_completed, b.jobs_rejected
                ),
                "jobs",
            ),
        ];
        let plural = if self.loops == 1 { "" } else { "s" };
        writeln!(f, "ringloop: {} loop{plural} on {backend}", self.loops)?;
        let w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
        let v = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
        for Row(name, value, unit) in &rows {
            writeln!(f, "  {name:<w$}  {value:>v$}  {unit}")?;
        }
        writeln!(f, "  ops completed by kind: {ops}")?;
        write!(
            f,
            "  legend: ELU = busy / (busy + parked in the kernel); an empty wake is a park \
             that woke no task; loop lag = how late a due timer or woken task ran; \
             syscalls per op = (wait + io) / ops completed"
        )
    }
}
