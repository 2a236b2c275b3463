//! The checks, one module per spec. Each module declares its checks (id, section, level,
//! description) with [`checks!`] and exposes `run`, which records an outcome for each of them.

use crate::report::Check;

/// Declares the checks of a module as statics, and `CHECKS`, the list of them.
macro_rules! checks {
    ($( $name:ident = $id:literal, $section:literal, $level:ident, $desc:literal; )*) => {
        $(
            pub(crate) static $name: crate::report::Check = crate::report::Check {
                id: $id,
                section: $section,
                level: crate::report::Level::$level,
                description: $desc,
            };
        )*
        /// Every check of this module.
        pub(crate) static CHECKS: &[&crate::report::Check] = &[$(&$name),*];
    };
}

pub(crate) mod machine;
pub(crate) mod mcp_2025_11_25;
pub(crate) mod mcp_2026_07_28;
pub(crate) mod oauth21_authorize;
pub(crate) mod oauth21_token;
pub(crate) mod refresh;
pub(crate) mod rfc6750;
pub(crate) mod rfc7009;
pub(crate) mod rfc7591;
pub(crate) mod rfc7592;
pub(crate) mod rfc7662;
pub(crate) mod rfc8414;
pub(crate) mod rfc8707;
pub(crate) mod rfc9068;
pub(crate) mod rfc9449;
pub(crate) mod rfc9700;
pub(crate) mod rfc9728;

/// Every check, in the order the modules run.
pub(crate) fn catalogue() -> Vec<&'static Check> {
    [
        rfc8414::CHECKS,
        rfc9728::CHECKS,
        rfc7591::CHECKS,
        rfc7592::CHECKS,
        oauth21_authorize::CHECKS,
        oauth21_token::CHECKS,
        rfc8707::CHECKS,
        rfc9068::CHECKS,
        rfc9449::CHECKS,
        refresh::CHECKS,
        rfc9700::CHECKS,
        rfc7009::CHECKS,
        rfc7662::CHECKS,
        machine::CHECKS,
        rfc6750::CHECKS,
        mcp_2025_11_25::CHECKS,
        mcp_2026_07_28::CHECKS,
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_named_after_a_section() {
        let all = catalogue();
        for (i, check) in all.iter().enumerate() {
            assert!(
                !all.iter().skip(i + 1).any(|c| c.id == check.id),
                "duplicate id {}",
                check.id
            );
            assert!(check.section.contains('§'), "{} names no section", check.id);
        }
        assert!(all.len() >= 130, "{} checks", all.len());
    }
}
