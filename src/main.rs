use clap::Parser;

fn main() {
    let cli = distill_tui::cli::Cli::parse();
    if let Err(e) = distill_tui::cli::run(cli) {
        eprintln!("error: {e}");
        std::process::exit(e.exit_code());
    }
}
