//! One keystroke at 120×40 with a 32-character password: edit, checklist, strength estimate
//! and a full redraw, through the console's real message queue, with the binary's zeroizing
//! global allocator. Budget: < 1 ms (release).

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

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

fn keystroke(c: &mut Criterion) {
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
    for ch in "Tr0ub4dor&3-correct-Horse-bat7x".chars() {
        tx.send(key(KeyCode::Char(ch))).expect("queue");
    }
    console.process_queue().expect("draw");
    rekey::policy::warm_up();

    // Alternate typing the 32nd character and deleting it: each iteration is one keystroke.
    let mut add = true;
    c.bench_function("keystroke_32_chars_120x40", |b| {
        b.iter(|| {
            let msg = if add {
                key(KeyCode::Char('Q'))
            } else {
                key(KeyCode::Backspace)
            };
            add = !add;
            tx.send(msg).expect("queue");
            black_box(console.process_queue().expect("draw"));
        })
    });
}

criterion_group!(benches, keystroke);
criterion_main!(benches);
