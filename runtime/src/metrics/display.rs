//! A human-readable rendering of a snapshot, for servers to print at exit.

use std::fmt;

use super::MetricsSnapshot;

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = self.backend.map_or("mixed".to_string(), |b| b.to_string());
        writeln!(f, "ringloop: {} loop(s) on {backend}", self.loops)?;
        writeln!(
            f,
            "  loop turns {}  tasks spawned {} polled {} done {} alive {}",
            self.loop_iterations,
            self.tasks_spawned,
            self.tasks_polled,
            self.tasks_completed,
            self.tasks_alive
        )?;
        writeln!(
            f,
            "  ops submitted {} completed {} (fallback {})  syscalls: wait {} + io {} ({:.3} per op)",
            self.ops_submitted,
            self.ops_completed,
            self.ops_fallback,
            self.wait_syscalls,
            self.io_syscalls,
            self.syscalls_per_op()
        )?;
        if !self.ops_by_opcode.is_empty() {
            write!(f, "  by opcode:")?;
            for o in &self.ops_by_opcode {
                write!(f, " {} {}/{}", o.name, o.completed, o.started)?;
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "  timers armed {} fired {}  remote wakes {}  cancels retried {}",
            self.timers_armed, self.timers_fired, self.remote_wakes, self.cancel_retries
        )?;
        writeln!(f, "  loop lag {:?}", self.loop_lag)?;
        match &self.longest_poll {
            Some(p) => writeln!(
                f,
                "  longest poll {:?} (task spawned at {})  stalls {}",
                p.duration, p.spawned_at, self.stalls
            )?,
            None => writeln!(f, "  longest poll -  stalls {}", self.stalls)?,
        }
        let b = &self.blocking;
        write!(
            f,
            "  blocking pool: started {} alive {} busy {} queued {} done {} rejected {}",
            b.threads_started,
            b.threads_alive,
            b.threads_busy,
            b.queue_depth,
            b.jobs_completed,
            b.jobs_rejected
        )
    }
}
