//! The one rule for text users type (names, `started_by`, error messages): any length,
//! shown exactly as typed, but no control characters and no bidirectional overrides.
//!
//! Control characters (NUL, BEL, ESC, …) have no business in a Slack message and can
//! corrupt terminals that show our logs; bidi overrides (U+202A–U+202E, U+2066–U+2069)
//! make a name read differently from what it is ("Trojan Source"). Multi-line fields
//! (error messages, sensor messages) keep line breaks and tabs.

/// Whether a field may span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Why a text was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UserTextError {
    #[error("must not contain control characters (found U+{0:04X})")]
    Control(u32),
    #[error("must not contain bidirectional override characters (found U+{0:04X})")]
    Bidi(u32),
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Checks user text against the rule; `Ok` leaves it unchanged.
pub fn check(text: &str, lines: Lines) -> Result<(), UserTextError> {
    for c in text.chars() {
        let allowed_break = lines == Lines::Many && matches!(c, '\n' | '\r' | '\t');
        if c.is_control() && !allowed_break {
            return Err(UserTextError::Control(c as u32));
        }
        if is_bidi_control(c) {
            return Err(UserTextError::Bidi(c as u32));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_controls_and_bidi_overrides_but_keep_everything_else() {
        for ok in ["Checkout *peak* _x_ `y` ~z~ <!channel> :smile: 日本語", ""] {
            assert_eq!(check(ok, Lines::One), Ok(()), "{ok}");
        }
        assert_eq!(check("a\0b", Lines::One), Err(UserTextError::Control(0)));
        assert_eq!(check("a\u{7}", Lines::One), Err(UserTextError::Control(7)));
        assert_eq!(
            check("\u{1b}[31m", Lines::One),
            Err(UserTextError::Control(0x1b))
        );
        assert_eq!(check("a\nb", Lines::One), Err(UserTextError::Control(10)));
        assert_eq!(
            check("abc\u{202E}fdp", Lines::One),
            Err(UserTextError::Bidi(0x202E))
        );
        assert_eq!(
            check("x\u{2067}y", Lines::Many),
            Err(UserTextError::Bidi(0x2067))
        );
    }

    #[test]
    fn multi_line_text_keeps_line_breaks_and_tabs() {
        assert_eq!(check("panic at\n\tmain.rs:1\r\n", Lines::Many), Ok(()));
        assert_eq!(check("a\0", Lines::Many), Err(UserTextError::Control(0)));
    }
}
