//! Template rendering: any template text is checked and rendered for every sink type against the
//! sample alert. Errors are fine; panics, hangs and unbounded memory are not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newswatch::deliver::SinkKind;
use newswatch::deliver::template::{check, markup_for, sample_alert};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    let alert = sample_alert();
    for kind in SinkKind::ALL {
        if let Ok(template) = check(source, kind) {
            let _ = template.render(&alert, markup_for(kind), kind, 200);
        }
    }
});
