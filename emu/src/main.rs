use std::process::ExitCode;

fn main() -> ExitCode {
    emu::cli::main()
}
