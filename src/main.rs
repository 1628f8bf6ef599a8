use clap::Parser;

// Training allocates and frees tensors of tens of megabytes every step (the embedding
// gradient, Adam's moments). glibc hands such blocks back to the kernel each time, so every
// step paid for page faults; mimalloc keeps them for reuse.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = distill_tui::cli::Cli::parse();
    match distill_tui::cli::run(cli) {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(e) => {
            distill_tui::cli::print_err(&format!("error: {e}"));
            std::process::exit(e.exit_code());
        }
    }
}
