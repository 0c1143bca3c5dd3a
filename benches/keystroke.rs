//! One keystroke at 120×40 with a 32- and a 128-character password: edit, checklist, strength
//! estimate and a full redraw, through the console's real message queue, with the binary's
//! zeroizing global allocator. Budget: < 1 ms (release), and < 1 ms p99 at 128 characters.
//!
//! Criterion reports the mean and median; the p50/p99/max of single keystrokes (each timed on
//! its own, `REKEY_BENCH_SAMPLES` of them, default 5000) are printed before each case.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rekey::config;
use rekey::console::editor::FieldRole;
use rekey::console::{App, Console, Focus, Loaded, Message, SystemClock};

/// The binary's allocator (src/main.rs): every freed block is zeroed, so the bench measures
/// the cost users pay.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

const PROFILE: &str = r#"
[[profile]]
name = "iam-alice"
kind = "huawei-iam"
iam_endpoint = "https://iam.myhuaweicloud.com"
domain = "my-account"
user = "alice"
email = "alice@example.com"
"#;

fn key(code: KeyCode) -> Message {
    Message::Input(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// A console at 120×40 whose New field holds `len - 1` characters, focused.
fn console_typed(len: usize) -> Console<TestBackend> {
    let config = config::parse(Path::new("bench.toml"), PROFILE).expect("valid config");
    let terminal = Terminal::new(TestBackend::new(120, 40)).expect("backend");
    let app = App::new(None, Loaded::Config(config), (120, 40));
    let mut console = Console::new(terminal, app, Arc::new(SystemClock));
    let tx = console.sender();
    let new = console
        .app()
        .editor
        .as_ref()
        .and_then(|e| e.index_of(FieldRole::New))
        .expect("new field");
    while console.app().focus != Focus::Field(new) {
        tx.send(key(KeyCode::Tab)).expect("queue");
        console.process_queue().expect("draw");
    }
    let base = "Tr0ub4dor&3-correct-Horse-bat7x";
    for ch in base.chars().cycle().take(len - 1) {
        tx.send(key(KeyCode::Char(ch))).expect("queue");
    }
    console.process_queue().expect("draw");
    console
}

/// One keystroke: types the `len`th character or deletes it, alternately.
fn stroke(console: &mut Console<TestBackend>, add: &mut bool) {
    let msg = if *add {
        key(KeyCode::Char('Q'))
    } else {
        key(KeyCode::Backspace)
    };
    *add = !*add;
    console.sender().send(msg).expect("queue");
    black_box(console.process_queue().expect("draw"));
}

/// Times single keystrokes and prints their p50, p99 and max.
fn percentiles(name: &str, console: &mut Console<TestBackend>) {
    let samples: usize = std::env::var("REKEY_BENCH_SAMPLES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5000);
    let mut add = true;
    for _ in 0..200 {
        stroke(console, &mut add);
    }
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            stroke(console, &mut add);
            start.elapsed()
        })
        .collect();
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "{name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (n={samples})",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
    );
}

fn keystroke(c: &mut Criterion) {
    rekey::policy::warm_up();
    for len in [32, 128] {
        let name = format!("keystroke_{len}_chars_120x40");
        let mut console = console_typed(len);
        percentiles(&name, &mut console);
        // Alternate typing the last character and deleting it: each iteration is one keystroke.
        let mut add = true;
        c.bench_function(&name, |b| b.iter(|| stroke(&mut console, &mut add)));
    }
}

criterion_group!(benches, keystroke);
criterion_main!(benches);
