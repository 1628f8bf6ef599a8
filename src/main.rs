// Training allocates and frees tensors of tens of megabytes every step (the embedding
// gradient, Adam's moments). glibc hands such blocks back to the kernel each time, so every
// step paid for page faults; mimalloc keeps them for reuse.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `purge_delay` option (`mi_option_purge_delay`, 15 in v2's and v3's mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // mimalloc gives freed memory back to the kernel 1 s after it is freed (its default), and
    // the kernel zeroes it again on the next touch. A CPU step lasts longer than that, so each
    // step faulted its buffers in anew: a third of a 384/12 bench step was the kernel clearing
    // pages (100,000 page faults in 4 steps; 1,600 without purging). Memory freed in one step
    // is reused by the next, so peak memory barely moves (README, Performance).
    // MIMALLOC_PURGE_DELAY in the environment still wins, for experiments.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: setting an option is allowed at any time; it only changes when memory is purged.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    // Mesa's Vulkan device-select layer prints "XDG_RUNTIME_DIR is invalid or not set" each
    // time adapters are listed where that variable is unset (root over SSH, containers, Slurm),
    // which would tear the monitor's screen. It only reorders adapters, and distill-tui picks
    // one itself (src/backend/adapter.rs). NODEVICE_SELECT in the environment still wins.
    #[cfg(feature = "wgpu")]
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: no other thread has started yet.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
    let cli = distill_tui::cli::Cli::parse_with_tips();
    // A panic is a bug, never an answer to input: the hook has printed where it happened; the
    // process ends with exit code 1 and says so, instead of Rust's 101.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| distill_tui::cli::run(cli)));
    match outcome {
        Ok(Ok(0)) => {}
        Ok(Ok(code)) => std::process::exit(code),
        Ok(Err(e)) => {
            distill_tui::cli::print_err(&format!("error: {e}"));
            std::process::exit(e.exit_code());
        }
        Err(_) => {
            distill_tui::cli::print_err(
                "error: distill-tui stopped on an internal error (the lines above say where); this is a bug: \
                 please report it with those lines. Results written so far are kept; rerunning resumes",
            );
            std::process::exit(1);
        }
    }
}
