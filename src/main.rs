use clap::Parser;

// Training allocates and frees tensors of tens of megabytes every step (the embedding
// gradient, Adam's moments, attention scores). glibc hands such blocks back to the kernel each
// time, so every step paid for page faults; mimalloc keeps them for reuse.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay` in mimalloc.h, v2).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // mimalloc gives freed memory back to the kernel after 10 ms by default, and the kernel
    // zeroes it again on the next touch: 20% of a CPU step went to page clearing. A second
    // keeps a step's buffers for the next step; peak memory is unchanged (README, Performance).
    // SAFETY: setting an option is allowed at any time; it only changes when memory is purged.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
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
