//! The `rekey` binary: everything lives in the library; see `rekey::cli`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    rekey::cli::main()
}
