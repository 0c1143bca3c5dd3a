//! The `rekey` binary: everything lives in the library; see `rekey::cli`.
#![forbid(unsafe_code)]

/// Every heap block is zeroed when it is freed (and when `realloc` moves it: this wrapper
/// reallocates by allocating, copying and freeing), so what the HTTP stack, zxcvbn, serde or
/// any other library copied a secret into and freed is not left in freed memory.
/// `zeroizing-alloc` is 1Password's audited wrapper; its `unsafe` stays in that crate.
#[global_allocator]
static ALLOCATOR: zeroizing_alloc::ZeroAlloc<std::alloc::System> =
    zeroizing_alloc::ZeroAlloc(std::alloc::System);

fn main() -> std::process::ExitCode {
    rekey::cli::main()
}
