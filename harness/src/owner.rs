//! The process that owns a run (pid, process start time, host), and whether it is still alive.

use std::collections::HashMap;

use crate::labels;

/// The process that created a run's containers and networks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id on `host`.
    pub pid: u32,
    /// Process start time in clock ticks after boot, or `None` where `/proc` is not readable.
    pub start_ticks: Option<u64>,
    /// Hostname of the machine the process runs on.
    pub host: String,
}

/// Whether the owner of a run is still running.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// The owning process runs on this host.
    Alive,
    /// The owning process ran on this host and has exited (or its pid now belongs to another
    /// process).
    Dead,
    /// The owner ran on another host, so this host cannot tell.
    OtherHost,
}

impl Owner {
    /// Describes the current process.
    pub fn current() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            start_ticks: process_start_ticks(pid),
            host: hostname(),
        }
    }

    /// Reads the owner back from a resource's labels. Returns `None` if the pid or host label
    /// is missing or malformed.
    pub fn from_labels(labels: &HashMap<String, String>) -> Option<Self> {
        let pid = labels.get(labels::PID)?.parse().ok()?;
        let host = labels.get(labels::HOST)?.clone();
        let start_ticks = labels.get(labels::PID_START).and_then(|v| v.parse().ok());
        Some(Self {
            pid,
            start_ticks,
            host,
        })
    }

    /// Checks whether this owner still runs, as seen from `this_host`.
    pub fn liveness(&self, this_host: &str) -> Liveness {
        if self.host != this_host {
            return Liveness::OtherHost;
        }
        if !pid_exists(self.pid) {
            return Liveness::Dead;
        }
        // A pid that exists but started at another time is a reused pid.
        match (self.start_ticks, process_start_ticks(self.pid)) {
            (Some(recorded), Some(current)) if recorded != current => Liveness::Dead,
            _ => Liveness::Alive,
        }
    }
}

/// Checks whether any process has this pid, with `kill(pid, 0)`: EPERM still means it exists.
fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 performs only the existence and permission check and sends nothing.
    let result = unsafe { libc::kill(pid, 0) };
    if result == 0 {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Reads field 22 (`starttime`) of `/proc/<pid>/stat`. The second field is the command name
/// in parentheses and may contain spaces, so fields are counted after the last `)`.
fn process_start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

fn parse_start_ticks(stat: &str) -> Option<u64> {
    let after_command = &stat[stat.rfind(')')? + 1..];
    // After the command come field 3 (state) onwards, so starttime is the 20th of them.
    after_command.split_whitespace().nth(19)?.parse().ok()
}

/// Returns this machine's hostname, or `unknown-host` if it cannot be read.
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its full length, gethostname writes at most that many
    // bytes, and the result is read only up to the first NUL inside the buffer.
    let result = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    if result != 0 {
        return "unknown-host".to_owned();
    }
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    String::from_utf8_lossy(&buffer[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_process_is_alive() {
        let owner = Owner::current();
        assert_eq!(owner.liveness(&owner.host), Liveness::Alive);
    }

    #[test]
    fn exited_process_is_dead() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("`true` should start");
        let pid = child.id();
        child.wait().expect("`true` should exit");
        let owner = Owner {
            pid,
            start_ticks: None,
            host: hostname(),
        };
        assert_eq!(owner.liveness(&hostname()), Liveness::Dead);
    }

    #[test]
    fn reused_pid_is_dead() {
        let mut owner = Owner::current();
        owner.start_ticks = owner.start_ticks.map(|ticks| ticks + 1);
        assert!(
            owner.start_ticks.is_some(),
            "/proc/self/stat should be readable"
        );
        assert_eq!(owner.liveness(&owner.host), Liveness::Dead);
    }

    #[test]
    fn owner_on_another_host_is_not_judged() {
        let owner = Owner {
            pid: 1,
            start_ticks: None,
            host: "another-host".to_owned(),
        };
        assert_eq!(owner.liveness("this-host"), Liveness::OtherHost);
    }

    #[test]
    fn start_ticks_parse_with_spaces_in_command() {
        let stat = "1234 (my cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 \
                    987654 1000 10";
        assert_eq!(parse_start_ticks(stat), Some(987654));
    }

    #[test]
    fn owner_round_trips_through_labels() {
        let owner = Owner::current();
        let labels = crate::labels::run_labels(&crate::labels::RunId::generate(), &owner);
        assert_eq!(Owner::from_labels(&labels), Some(owner));
    }
}
