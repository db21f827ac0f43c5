//! How names are compared: case folding, the confusable key two nicknames are compared by, and
//! the names nobody may take (for a nickname or a visitor room's title).

/// Names nobody may take, because they would pass for the system or for staff.
const RESERVED: &[&str] = &["staff", "system", "admin", "moderator", "mod"];

/// Case folding for comparison (full Unicode lowercase, which folds every cased script we
/// expect in nicknames; `ß` and `ẞ` both become `ß`).
pub fn fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// What nicknames are compared by: the UTS #39 confusable skeleton of the case-folded name,
/// lowercased again (prototypes may be capitals, as `0` → `O`), with `i` merged into `l`.
/// That last step is what case-insensitive *and* confusable comparison adds up to: `I` looks
/// like `l` (its prototype), and `I` is `i` case-insensitively, so `AIice` (capital i), `Alice`,
/// `ALICE` and `A1ice` must share a key. `Аlice` (Cyrillic А), `Ａｌｉｃｅ`, `B0b`/`Bob` and
/// `Sarn`/`Sam` share one too. Apply it to a nickname as shown ([`Nickname::as_str`](super::Nickname::as_str)) to find
/// the seat it holds, e.g. for a kick.
pub fn nick_key(display: &str) -> String {
    let folded = fold(display);
    unicode_security::skeleton(&folded).flat_map(char::to_lowercase).map(|c| if c == 'i' { 'l' } else { c }).collect()
}

/// A crude confusable skeleton: separators dropped, digits and common Cyrillic/Greek
/// look-alikes mapped to Latin, repeated letters collapsed. Only used against the short
/// reserved list, so false positives only hit names that look like `staff` or `admin`.
fn reserved_fold(folded: &str) -> String {
    let mut out = String::new();
    let mut last = None;
    for c in folded.chars() {
        let mapped = match c {
            ' ' | '_' | '-' | '.' => continue,
            '0' | 'о' | 'ο' => 'o',
            '1' | '!' | 'і' | 'ı' | 'ι' | 'l' | '|' => 'i',
            '3' | 'е' | 'ε' => 'e',
            '4' | '@' | 'а' | 'α' => 'a',
            '5' | '$' | 'ѕ' => 's',
            '7' | 'т' | 'τ' => 't',
            'р' | 'ρ' => 'p',
            'с' | 'ϲ' => 'c',
            'м' | 'μ' => 'm',
            'ԁ' => 'd',
            'ո' | 'п' | 'η' => 'n',
            'г' => 'r',
            'у' | 'γ' => 'y',
            'х' | 'χ' => 'x',
            'ƒ' => 'f',
            other => other,
        };
        if last != Some(mapped) {
            out.push(mapped);
        }
        last = Some(mapped);
    }
    out
}

/// Does `name` (with its [`nick_key`] `key`) read as a reserved name, or look like one?
pub(super) fn is_reserved(name: &str, key: &str) -> bool {
    let reserved_form = reserved_fold(&fold(name));
    RESERVED.iter().any(|r| reserved_form == reserved_fold(r) || key == nick_key(r))
}
