//! Exact frames: a screen compared whole, line by line, with `tests/screens/NAME.txt`; a
//! mismatch prints the differing lines. `REKEY_BLESS=1` rewrites the files (read the diff
//! before committing them).

use std::path::{Path, PathBuf};

/// Where the expected frames are.
pub fn screens_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/screens")
}

/// Compares a frame with its expected text, printing every differing line (with its row and
/// `·` for trailing spaces so they show) before failing.
pub fn assert_frame(name: &str, actual: &[String]) {
    let path = screens_dir().join(format!("{name}.txt"));
    if std::env::var_os("REKEY_BLESS").is_some() {
        std::fs::create_dir_all(screens_dir()).expect("dir");
        std::fs::write(&path, actual.join("\n") + "\n").expect("bless");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (REKEY_BLESS=1 writes it)\nactual:\n{}",
            path.display(),
            actual.join("\n")
        )
    });
    let expected: Vec<&str> = expected.lines().collect();
    let show = |l: &str| {
        let trimmed = l.trim_end_matches(' ');
        format!("{trimmed}{}", "·".repeat(l.len() - trimmed.len()))
    };
    let mut diff = String::new();
    for row in 0..expected.len().max(actual.len()) {
        let e = expected.get(row).copied();
        let a = actual.get(row).map(String::as_str);
        if e != a {
            diff.push_str(&format!(
                "row {row:>2} - {}\n",
                e.map_or("(none)".into(), show)
            ));
            diff.push_str(&format!(
                "row {row:>2} + {}\n",
                a.map_or("(none)".into(), show)
            ));
        }
    }
    assert!(
        diff.is_empty(),
        "{name}: the frame differs from {} (- expected, + actual):\n{diff}\nwhole frame:\n{}",
        path.display(),
        actual.join("\n")
    );
}
