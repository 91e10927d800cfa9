//! `cargo xtask dev`'s children: each in a process group of its own, so a Ctrl-C in the terminal
//! reaches xtask alone, as a SIGINT or SIGTERM sent to xtask by an IDE's stop button or a
//! supervisor does. When told to stop, or when an essential child exits, xtask stops the
//! others the last started first (the app, the worker, then the server; Postgres is the
//! caller's to stop after): SIGTERM, then SIGKILL if a child is still there after a grace period.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A child starts in a process group of its own: the terminal's Ctrl-C does not reach it.
pub fn own_group(command: &mut Command) -> &mut Command {
    command.process_group(0)
}

#[derive(Default)]
pub struct Children {
    running: Vec<(&'static str, Child)>,
}

impl Children {
    pub fn add(&mut self, name: &'static str, child: Child) {
        self.running.push((name, child));
    }

    /// Waits until `stop` is set, or the child named `essential` exits (its status, then).
    pub fn wait(&mut self, stop: &AtomicBool, essential: &str) -> std::io::Result<Option<ExitStatus>> {
        loop {
            if stop.load(Ordering::SeqCst) {
                return Ok(None);
            }
            for (name, child) in &mut self.running {
                if *name == essential {
                    if let Some(status) = child.try_wait()? {
                        return Ok(Some(status));
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops every child, the last started first, each given `grace` to exit after SIGTERM.
    /// Returns the children's names in the order they were stopped.
    pub fn stop_all(&mut self, grace: Duration) -> Vec<&'static str> {
        let mut stopped = Vec::new();
        while let Some((name, mut child)) = self.running.pop() {
            if matches!(child.try_wait(), Ok(None)) {
                eprintln!("xtask: stopping the {name}");
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
                let asked = Instant::now();
                while matches!(child.try_wait(), Ok(None)) && asked.elapsed() < grace {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if matches!(child.try_wait(), Ok(None)) {
                    eprintln!("xtask: the {name} did not stop within {} s; killing it", grace.as_secs());
                    let _ = child.kill();
                }
            }
            let _ = child.wait();
            stopped.push(name);
        }
        stopped
    }
}

/// A stand-in child for the tests of this supervision (and `xtask supervise-demo`): a shell that
/// appends `name` to `dir/stopped` when it gets SIGTERM and exits, or, if `stubborn`, ignores
/// SIGTERM. Returned once its handler is in place.
pub fn stand_in(dir: &std::path::Path, name: &str, stubborn: bool) -> std::io::Result<Child> {
    let log = dir.join("stopped");
    let up = dir.join(format!("up-{name}"));
    let on_term = if stubborn { String::new() } else { format!("echo {name} >> '{}'; exit 0", log.display()) };
    let script = format!("trap \"{on_term}\" TERM; : > '{}'; while :; do sleep 0.05; done", up.display());
    let child = own_group(Command::new("sh").args(["-c", &script])).spawn()?;
    let since = Instant::now();
    while !up.exists() && since.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A directory of its own for one test.
    fn scratch(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir
    }

    fn child(dir: &Path, name: &str, stubborn: bool) -> Child {
        stand_in(dir, name, stubborn).unwrap_or_else(|e| panic!("sh: {e}"))
    }

    #[test]
    fn children_stop_the_last_started_first_and_a_stubborn_one_is_killed() {
        let dir = scratch("stop-order");
        let mut children = Children::default();
        for name in ["server", "worker", "app"] {
            children.add(name, child(&dir, name, false));
        }
        children.add("stubborn", child(&dir, "stubborn", true));
        let order = children.stop_all(Duration::from_millis(500));
        assert_eq!(order, ["stubborn", "app", "worker", "server"]);
        let told = std::fs::read_to_string(dir.join("stopped")).unwrap_or_default();
        assert_eq!(told.lines().collect::<Vec<_>>(), ["app", "worker", "server"], "each got SIGTERM, in that order");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn waiting_ends_when_told_to_stop_or_when_the_essential_child_exits() {
        let mut children = Children::default();
        let mut quick = Command::new("sh");
        quick.args(["-c", "exit 3"]);
        children.add("server", own_group(&mut quick).spawn().unwrap_or_else(|e| panic!("{e}")));
        let status = children.wait(&AtomicBool::new(false), "server").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        assert_eq!(children.wait(&AtomicBool::new(true), "server").ok(), Some(None), "told to stop: no status");
        children.stop_all(Duration::from_millis(100));
    }
}
