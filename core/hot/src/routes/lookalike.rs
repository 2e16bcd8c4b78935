//! Characters an origin may read as ASCII though they are not (DESIGN
//! §4.1): what Unicode compatibility folding (NFKC) or Windows' best-fit
//! conversion to its ANSI code page (the "WorstFit" attacks) turns into
//! ASCII. A path holding one is refused: `/%EF%BD%81dmin` (a fullwidth
//! `ａ`) is not `/admin` to the edge, but is to an origin that folds it.

/// Every character besides ASCII whose NFKC form holds an ASCII character
/// (`ａ`, `ﬀ`, `𝐚`, `²`, `½`, `℃`, a no-break space, …), as inclusive
/// ranges. Derived from Unicode's data, not picked by eye: the test
/// `nfkc_table_is_exactly_what_folds_into_ascii` recomputes the set over
/// every code point with a reference NFKC.
pub const NFKC_TO_ASCII: [(char, char); 142] = [
    ('\u{00A0}', '\u{00A0}'),   // no-break space
    ('\u{00A8}', '\u{00A8}'),   // diaeresis
    ('\u{00AA}', '\u{00AA}'),   // feminine ordinal indicator
    ('\u{00AF}', '\u{00AF}'),   // macron
    ('\u{00B2}', '\u{00B4}'),   // superscript two … acute accent
    ('\u{00B8}', '\u{00BA}'),   // cedilla … masculine ordinal indicator
    ('\u{00BC}', '\u{00BE}'),   // vulgar fraction one quarter … vulgar fraction three quarters
    ('\u{0132}', '\u{0133}'),   // latin capital ligature ij … latin small ligature ij
    ('\u{013F}', '\u{0140}'), // latin capital letter l with middle dot … latin small letter l with middle dot
    ('\u{0149}', '\u{0149}'), // latin small letter n preceded by apostrophe
    ('\u{017F}', '\u{017F}'), // latin small letter long s
    ('\u{01C4}', '\u{01CC}'), // latin capital letter dz with caron … latin small letter nj
    ('\u{01F1}', '\u{01F3}'), // latin capital letter dz … latin small letter dz
    ('\u{02B0}', '\u{02B0}'), // modifier letter small h
    ('\u{02B2}', '\u{02B3}'), // modifier letter small j … modifier letter small r
    ('\u{02B7}', '\u{02B8}'), // modifier letter small w … modifier letter small y
    ('\u{02D8}', '\u{02DD}'), // breve … double acute accent
    ('\u{02E1}', '\u{02E3}'), // modifier letter small l … modifier letter small x
    ('\u{037A}', '\u{037A}'), // greek ypogegrammeni
    ('\u{037E}', '\u{037E}'), // greek question mark
    ('\u{0384}', '\u{0385}'), // greek tonos … greek dialytika tonos
    ('\u{1D2C}', '\u{1D2C}'), // modifier letter capital a
    ('\u{1D2E}', '\u{1D2E}'), // modifier letter capital b
    ('\u{1D30}', '\u{1D31}'), // modifier letter capital d … modifier letter capital e
    ('\u{1D33}', '\u{1D3A}'), // modifier letter capital g … modifier letter capital n
    ('\u{1D3C}', '\u{1D3C}'), // modifier letter capital o
    ('\u{1D3E}', '\u{1D43}'), // modifier letter capital p … modifier letter small a
    ('\u{1D47}', '\u{1D49}'), // modifier letter small b … modifier letter small e
    ('\u{1D4D}', '\u{1D4D}'), // modifier letter small g
    ('\u{1D4F}', '\u{1D50}'), // modifier letter small k … modifier letter small m
    ('\u{1D52}', '\u{1D52}'), // modifier letter small o
    ('\u{1D56}', '\u{1D58}'), // modifier letter small p … modifier letter small u
    ('\u{1D5B}', '\u{1D5B}'), // modifier letter small v
    ('\u{1D62}', '\u{1D65}'), // latin subscript small letter i … latin subscript small letter v
    ('\u{1D9C}', '\u{1D9C}'), // modifier letter small c
    ('\u{1DA0}', '\u{1DA0}'), // modifier letter small f
    ('\u{1DBB}', '\u{1DBB}'), // modifier letter small z
    ('\u{1E9A}', '\u{1E9A}'), // latin small letter a with right half ring
    ('\u{1FBD}', '\u{1FBD}'), // greek koronis
    ('\u{1FBF}', '\u{1FC1}'), // greek psili … greek dialytika and perispomeni
    ('\u{1FCD}', '\u{1FCF}'), // greek psili and varia … greek psili and perispomeni
    ('\u{1FDD}', '\u{1FDF}'), // greek dasia and varia … greek dasia and perispomeni
    ('\u{1FED}', '\u{1FEF}'), // greek dialytika and varia … greek varia
    ('\u{1FFD}', '\u{1FFE}'), // greek oxia … greek dasia
    ('\u{2000}', '\u{200A}'), // en quad … hair space
    ('\u{2017}', '\u{2017}'), // double low line
    ('\u{2024}', '\u{2026}'), // one dot leader … horizontal ellipsis
    ('\u{202F}', '\u{202F}'), // narrow no-break space
    ('\u{203C}', '\u{203C}'), // double exclamation mark
    ('\u{203E}', '\u{203E}'), // overline
    ('\u{2047}', '\u{2049}'), // double question mark … exclamation question mark
    ('\u{205F}', '\u{205F}'), // medium mathematical space
    ('\u{2070}', '\u{2071}'), // superscript zero … superscript latin small letter i
    ('\u{2074}', '\u{207A}'), // superscript four … superscript plus sign
    ('\u{207C}', '\u{208A}'), // superscript equals sign … subscript plus sign
    ('\u{208C}', '\u{208E}'), // subscript equals sign … subscript right parenthesis
    ('\u{2090}', '\u{2093}'), // latin subscript small letter a … latin subscript small letter x
    ('\u{2095}', '\u{209F}'), // latin subscript small letter h … ?
    ('\u{20A8}', '\u{20A8}'), // rupee sign
    ('\u{2100}', '\u{2103}'), // account of … degree celsius
    ('\u{2105}', '\u{2106}'), // care of … cada una
    ('\u{2109}', '\u{210E}'), // degree fahrenheit … planck constant
    ('\u{2110}', '\u{2113}'), // script capital i … script small l
    ('\u{2115}', '\u{2116}'), // double-struck capital n … numero sign
    ('\u{2119}', '\u{211D}'), // double-struck capital p … double-struck capital r
    ('\u{2120}', '\u{2122}'), // service mark … trade mark sign
    ('\u{2124}', '\u{2124}'), // double-struck capital z
    ('\u{2128}', '\u{2128}'), // black-letter capital z
    ('\u{212A}', '\u{212A}'), // kelvin sign
    ('\u{212C}', '\u{212D}'), // script capital b … black-letter capital c
    ('\u{212F}', '\u{2131}'), // script small e … script capital f
    ('\u{2133}', '\u{2134}'), // script capital m … script small o
    ('\u{2139}', '\u{2139}'), // information source
    ('\u{213B}', '\u{213B}'), // facsimile sign
    ('\u{2145}', '\u{2149}'), // double-struck italic capital d … double-struck italic small j
    ('\u{2150}', '\u{217F}'), // vulgar fraction one seventh … small roman numeral one thousand
    ('\u{2189}', '\u{2189}'), // vulgar fraction zero thirds
    ('\u{2460}', '\u{24EA}'), // circled digit one … circled digit zero
    ('\u{2A74}', '\u{2A76}'), // double colon equal … three consecutive equals signs
    ('\u{2C7C}', '\u{2C7D}'), // latin subscript small letter j … modifier letter capital v
    ('\u{3000}', '\u{3000}'), // ideographic space
    ('\u{309B}', '\u{309C}'), // katakana-hiragana voiced sound mark … katakana-hiragana semi-voiced sound mark
    ('\u{3200}', '\u{321E}'), // parenthesized hangul kiyeok … parenthesized korean character o hu
    ('\u{3220}', '\u{3243}'), // parenthesized ideograph one … parenthesized ideograph reach
    ('\u{3250}', '\u{325F}'), // partnership sign … circled number thirty five
    ('\u{32B1}', '\u{32CF}'), // circled number thirty six … limited liability sign
    ('\u{3358}', '\u{337A}'), // ideographic telegraph symbol for hour zero … square iu
    ('\u{3380}', '\u{33FF}'), // square pa amps … square gal
    ('\u{A7F1}', '\u{A7F4}'), // modifier letter capitals … modifier letter capital q
    ('\u{FB00}', '\u{FB06}'), // latin small ligature ff … latin small ligature st
    ('\u{FB29}', '\u{FB29}'), // hebrew letter alternative plus sign
    ('\u{FC5E}', '\u{FC63}'), // arabic ligature shadda with dammatan isolated form … arabic ligature shadda with superscript alef isolated form
    ('\u{FDFA}', '\u{FDFB}'), // arabic ligature sallallahou alayhe wasallam … arabic ligature jallajalalouhou
    ('\u{FE10}', '\u{FE10}'), // presentation form for vertical comma
    ('\u{FE13}', '\u{FE16}'), // presentation form for vertical colon … presentation form for vertical question mark
    ('\u{FE19}', '\u{FE19}'), // presentation form for vertical horizontal ellipsis
    ('\u{FE30}', '\u{FE30}'), // presentation form for vertical two dot leader
    ('\u{FE33}', '\u{FE38}'), // presentation form for vertical low line … presentation form for vertical right curly bracket
    ('\u{FE47}', '\u{FE50}'), // presentation form for vertical left square bracket … small comma
    ('\u{FE52}', '\u{FE52}'), // small full stop
    ('\u{FE54}', '\u{FE57}'), // small semicolon … small exclamation mark
    ('\u{FE59}', '\u{FE5C}'), // small left parenthesis … small right curly bracket
    ('\u{FE5F}', '\u{FE66}'), // small number sign … small equals sign
    ('\u{FE68}', '\u{FE6B}'), // small reverse solidus … small commercial at
    ('\u{FE70}', '\u{FE70}'), // arabic fathatan isolated form
    ('\u{FE72}', '\u{FE72}'), // arabic dammatan isolated form
    ('\u{FE74}', '\u{FE74}'), // arabic kasratan isolated form
    ('\u{FE76}', '\u{FE76}'), // arabic fatha isolated form
    ('\u{FE78}', '\u{FE78}'), // arabic damma isolated form
    ('\u{FE7A}', '\u{FE7A}'), // arabic kasra isolated form
    ('\u{FE7C}', '\u{FE7C}'), // arabic shadda isolated form
    ('\u{FE7E}', '\u{FE7E}'), // arabic sukun isolated form
    ('\u{FF01}', '\u{FF5E}'), // fullwidth exclamation mark … fullwidth tilde
    ('\u{FFE3}', '\u{FFE3}'), // fullwidth macron
    ('\u{107A5}', '\u{107A5}'), // modifier letter small q
    ('\u{1CCD6}', '\u{1CCF9}'), // outlined latin capital letter a … outlined digit nine
    ('\u{1D400}', '\u{1D454}'), // mathematical bold capital a … mathematical italic small g
    ('\u{1D456}', '\u{1D49C}'), // mathematical italic small i … mathematical script capital a
    ('\u{1D49E}', '\u{1D49F}'), // mathematical script capital c … mathematical script capital d
    ('\u{1D4A2}', '\u{1D4A2}'), // mathematical script capital g
    ('\u{1D4A5}', '\u{1D4A6}'), // mathematical script capital j … mathematical script capital k
    ('\u{1D4A9}', '\u{1D4AC}'), // mathematical script capital n … mathematical script capital q
    ('\u{1D4AE}', '\u{1D4B9}'), // mathematical script capital s … mathematical script small d
    ('\u{1D4BB}', '\u{1D4BB}'), // mathematical script small f
    ('\u{1D4BD}', '\u{1D4C3}'), // mathematical script small h … mathematical script small n
    ('\u{1D4C5}', '\u{1D505}'), // mathematical script small p … mathematical fraktur capital b
    ('\u{1D507}', '\u{1D50A}'), // mathematical fraktur capital d … mathematical fraktur capital g
    ('\u{1D50D}', '\u{1D514}'), // mathematical fraktur capital j … mathematical fraktur capital q
    ('\u{1D516}', '\u{1D51C}'), // mathematical fraktur capital s … mathematical fraktur capital y
    ('\u{1D51E}', '\u{1D539}'), // mathematical fraktur small a … mathematical double-struck capital b
    ('\u{1D53B}', '\u{1D53E}'), // mathematical double-struck capital d … mathematical double-struck capital g
    ('\u{1D540}', '\u{1D544}'), // mathematical double-struck capital i … mathematical double-struck capital m
    ('\u{1D546}', '\u{1D546}'), // mathematical double-struck capital o
    ('\u{1D54A}', '\u{1D550}'), // mathematical double-struck capital s … mathematical double-struck capital y
    ('\u{1D552}', '\u{1D6A3}'), // mathematical double-struck small a … mathematical monospace small z
    ('\u{1D7CE}', '\u{1D7FF}'), // mathematical bold digit zero … mathematical monospace digit nine
    ('\u{1F100}', '\u{1F10A}'), // digit zero full stop … digit nine comma
    ('\u{1F110}', '\u{1F12E}'), // parenthesized latin capital letter a … circled wz
    ('\u{1F130}', '\u{1F14F}'), // squared latin capital letter a … squared wc
    ('\u{1F16A}', '\u{1F16C}'), // raised mc sign … raised mr sign
    ('\u{1F190}', '\u{1F190}'), // square dj
    ('\u{1FBF0}', '\u{1FBF9}'), // segmented digit zero … segmented digit nine
];

/// Every character besides ASCII that Windows' best-fit conversion to
/// Windows-1252 (the ANSI code page of Western European systems) maps to
/// an ASCII byte, as inclusive ranges: the `WCTABLE` entries of Unicode's
/// `MAPPINGS/VENDORS/MICSFT/WindowsBestFit/bestfit1252.txt` whose byte is
/// below 0x80 (`ā` to `a`, `ı` to `i`, `∕` to `/`, fullwidth forms, …).
pub const BEST_FIT_TO_ASCII: [(char, char); 98] = [
    ('\u{0100}', '\u{010F}'), // latin capital letter a with macron … latin small letter d with caron
    ('\u{0111}', '\u{0131}'), // latin small letter d with stroke … latin small letter dotless i
    ('\u{0134}', '\u{0137}'), // latin capital letter j with circumflex … latin small letter k with cedilla
    ('\u{0139}', '\u{013E}'), // latin capital letter l with acute … latin small letter l with caron
    ('\u{0141}', '\u{0148}'), // latin capital letter l with stroke … latin small letter n with caron
    ('\u{014C}', '\u{0151}'), // latin capital letter o with macron … latin small letter o with double acute
    ('\u{0154}', '\u{015F}'), // latin capital letter r with acute … latin small letter s with cedilla
    ('\u{0162}', '\u{0177}'), // latin capital letter t with cedilla … latin small letter y with circumflex
    ('\u{0179}', '\u{017C}'), // latin capital letter z with acute … latin small letter z with dot above
    ('\u{0180}', '\u{0180}'), // latin small letter b with stroke
    ('\u{0197}', '\u{0197}'), // latin capital letter i with stroke
    ('\u{019A}', '\u{019A}'), // latin small letter l with bar
    ('\u{019F}', '\u{01A1}'), // latin capital letter o with middle tilde … latin small letter o with horn
    ('\u{01AB}', '\u{01AB}'), // latin small letter t with palatal hook
    ('\u{01AE}', '\u{01B0}'), // latin capital letter t with retroflex hook … latin small letter u with horn
    ('\u{01B6}', '\u{01B6}'), // latin small letter z with stroke
    ('\u{01C0}', '\u{01C0}'), // latin letter dental click
    ('\u{01C3}', '\u{01C3}'), // latin letter retroflex click
    ('\u{01CD}', '\u{01DC}'), // latin capital letter a with caron … latin small letter u with diaeresis and grave
    ('\u{01DE}', '\u{01DF}'), // latin capital letter a with diaeresis and macron … latin small letter a with diaeresis and macron
    ('\u{01E4}', '\u{01ED}'), // latin capital letter g with stroke … latin small letter o with ogonek and macron
    ('\u{01F0}', '\u{01F0}'), // latin small letter j with caron
    ('\u{0261}', '\u{0261}'), // latin small letter script g
    ('\u{02B9}', '\u{02BA}'), // modifier letter prime … modifier letter double prime
    ('\u{02BC}', '\u{02BC}'), // modifier letter apostrophe
    ('\u{02C4}', '\u{02C4}'), // modifier letter up arrowhead
    ('\u{02C8}', '\u{02C8}'), // modifier letter vertical line
    ('\u{02CB}', '\u{02CB}'), // modifier letter grave accent
    ('\u{02CD}', '\u{02CD}'), // modifier letter low macron
    ('\u{0300}', '\u{0300}'), // combining grave accent
    ('\u{0302}', '\u{0303}'), // combining circumflex accent … combining tilde
    ('\u{030E}', '\u{030E}'), // combining double vertical line above
    ('\u{0331}', '\u{0332}'), // combining macron below … combining low line
    ('\u{037E}', '\u{037E}'), // greek question mark
    ('\u{0393}', '\u{0393}'), // greek capital letter gamma
    ('\u{0398}', '\u{0398}'), // greek capital letter theta
    ('\u{03A3}', '\u{03A3}'), // greek capital letter sigma
    ('\u{03A6}', '\u{03A6}'), // greek capital letter phi
    ('\u{03A9}', '\u{03A9}'), // greek capital letter omega
    ('\u{03B1}', '\u{03B1}'), // greek small letter alpha
    ('\u{03B4}', '\u{03B5}'), // greek small letter delta … greek small letter epsilon
    ('\u{03C0}', '\u{03C0}'), // greek small letter pi
    ('\u{03C3}', '\u{03C4}'), // greek small letter sigma … greek small letter tau
    ('\u{03C6}', '\u{03C6}'), // greek small letter phi
    ('\u{04BB}', '\u{04BB}'), // cyrillic small letter shha
    ('\u{0589}', '\u{0589}'), // armenian full stop
    ('\u{066A}', '\u{066A}'), // arabic percent sign
    ('\u{2000}', '\u{2006}'), // en quad … six-per-em space
    ('\u{2010}', '\u{2011}'), // hyphen … non-breaking hyphen
    ('\u{2017}', '\u{2017}'), // double low line
    ('\u{2032}', '\u{2032}'), // prime
    ('\u{2035}', '\u{2035}'), // reversed prime
    ('\u{2044}', '\u{2044}'), // fraction slash
    ('\u{2074}', '\u{2078}'), // superscript four … superscript eight
    ('\u{207F}', '\u{2089}'), // superscript latin small letter n … subscript nine
    ('\u{20A7}', '\u{20A7}'), // peseta sign
    ('\u{2102}', '\u{2102}'), // double-struck capital c
    ('\u{2107}', '\u{2107}'), // euler constant
    ('\u{210A}', '\u{210E}'), // script small g … planck constant
    ('\u{2110}', '\u{2113}'), // script capital i … script small l
    ('\u{2115}', '\u{2115}'), // double-struck capital n
    ('\u{2118}', '\u{211D}'), // script capital p … double-struck capital r
    ('\u{2124}', '\u{2124}'), // double-struck capital z
    ('\u{2128}', '\u{2128}'), // black-letter capital z
    ('\u{212A}', '\u{212A}'), // kelvin sign
    ('\u{212C}', '\u{2131}'), // script capital b … script capital f
    ('\u{2133}', '\u{2134}'), // script capital m … script small o
    ('\u{2212}', '\u{2212}'), // minus sign
    ('\u{2215}', '\u{2217}'), // division slash … asterisk operator
    ('\u{221A}', '\u{221A}'), // square root
    ('\u{221E}', '\u{221E}'), // infinity
    ('\u{2223}', '\u{2223}'), // divides
    ('\u{2229}', '\u{2229}'), // intersection
    ('\u{2236}', '\u{2236}'), // ratio
    ('\u{223C}', '\u{223C}'), // tilde operator
    ('\u{2261}', '\u{2261}'), // identical to
    ('\u{2264}', '\u{2265}'), // less-than or equal to … greater-than or equal to
    ('\u{2303}', '\u{2303}'), // up arrowhead
    ('\u{2320}', '\u{2321}'), // top half integral … bottom half integral
    ('\u{2329}', '\u{232A}'), // left-pointing angle bracket … right-pointing angle bracket
    ('\u{2500}', '\u{2500}'), // box drawings light horizontal
    ('\u{250C}', '\u{250C}'), // box drawings light down and right
    ('\u{2510}', '\u{2510}'), // box drawings light down and left
    ('\u{2514}', '\u{2514}'), // box drawings light up and right
    ('\u{2518}', '\u{2518}'), // box drawings light up and left
    ('\u{251C}', '\u{251C}'), // box drawings light vertical and right
    ('\u{252C}', '\u{252C}'), // box drawings light down and horizontal
    ('\u{2534}', '\u{2534}'), // box drawings light up and horizontal
    ('\u{253C}', '\u{253C}'), // box drawings light vertical and horizontal
    ('\u{2550}', '\u{2550}'), // box drawings double horizontal
    ('\u{2552}', '\u{255D}'), // box drawings down single and right double … box drawings double up and left
    ('\u{2564}', '\u{256C}'), // box drawings down single and horizontal double … box drawings double vertical and horizontal
    ('\u{2584}', '\u{2584}'), // lower half block
    ('\u{2758}', '\u{2758}'), // light vertical bar
    ('\u{3000}', '\u{3000}'), // ideographic space
    ('\u{3008}', '\u{3009}'), // left angle bracket … right angle bracket
    ('\u{301A}', '\u{301B}'), // left white square bracket … right white square bracket
    ('\u{FF01}', '\u{FF5E}'), // fullwidth exclamation mark … fullwidth tilde
];

/// Whether an origin folding compatibility forms or converting to
/// Windows-1252 could read `c` as ASCII.
pub fn reads_as_ascii(c: char) -> bool {
    !c.is_ascii() && (within(&NFKC_TO_ASCII, c) || within(&BEST_FIT_TO_ASCII, c))
}

fn within(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(start, end)| {
            if end < c {
                std::cmp::Ordering::Less
            } else if start > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code point, through a reference NFKC (the unicode-normalization
    /// crate): the table is exactly the set that folds into anything ASCII.
    #[test]
    fn nfkc_table_is_exactly_what_folds_into_ascii() {
        use unicode_normalization::UnicodeNormalization;
        let folds = |c: char| !c.is_ascii() && c.to_string().nfkc().any(|n| n.is_ascii());
        let mismatches: Vec<String> = (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| folds(c) != within(&NFKC_TO_ASCII, c))
            .map(|c| format!("U+{:04X}", c as u32))
            .collect();
        assert!(
            mismatches.is_empty(),
            "table and NFKC disagree on {mismatches:?}"
        );
    }

    #[test]
    fn tables_are_sorted_and_disjoint_ranges() {
        for table in [&NFKC_TO_ASCII[..], &BEST_FIT_TO_ASCII[..]] {
            assert!(table.iter().all(|(start, end)| start <= end));
            assert!(table.windows(2).all(|w| w[0].1 < w[1].0));
        }
    }

    #[test]
    fn lookalikes_of_letters_digits_and_separators_read_as_ascii() {
        for c in [
            'ａ', 'Ａ', '１', 'ﬀ', '𝐚', '𝔞', 'ⓐ', '²', '½', 'ª', '\u{A0}', '\u{212A}', // NFKC
            'ā', 'ı', 'ł', 'ǎ', '\u{2215}', '\u{2010}', '\u{3000}',
            '\u{0303}', // best fit only
            '．', '／', '＼', '․',
        ] {
            assert!(reads_as_ascii(c), "U+{:04X}", c as u32);
        }
        for c in [
            'a', '/', 'é', 'ë', 'ß', 'ø', 'μ', 'ж', '文', '档', '日', '本', '€', '\u{0301}',
        ] {
            assert!(!reads_as_ascii(c), "U+{:04X}", c as u32);
        }
    }
}
