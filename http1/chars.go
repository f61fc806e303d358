package http1

// Byte classes of RFC 9110 §5.6.2 and §5.5, as 256-entry tables so the hot
// loops do one load per byte.

// tokenChar: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" /
// "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA (RFC 9110 §5.6.2).
var tokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// valueChar: field-vchar = VCHAR / obs-text, plus SP and HTAB inside a value
// (RFC 9110 §5.5). Everything else is a CTL (NUL, CR, LF, DEL, ...).
var valueChar = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	t['\t'] = true
	return t
}()

// qdtextChar: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
// (RFC 9110 §5.6.4), the unescaped bytes of a quoted-string.
var qdtextChar = func() (t [256]bool) {
	t['\t'], t[' '], t[0x21] = true, true, true
	for c := 0x23; c <= 0x5b; c++ {
		t[c] = true
	}
	for c := 0x5d; c <= 0x7e; c++ {
		t[c] = true
	}
	for c := 0x80; c <= 0xff; c++ {
		t[c] = true
	}
	return t
}()

// tokenByte is tokenChar as 0/1 bytes, so four lookups can be and-ed
// without a branch each.
var tokenByte = func() (t [256]byte) {
	for i, ok := range tokenChar {
		if ok {
			t[i] = 1
		}
	}
	return t
}()

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenChar[c] {
			return false
		}
	}
	return true
}

// lowerTab folds ASCII letters to lower case and keeps every other byte.
var lowerTab = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = byte(c - 'A' + 'a')
	}
	return t
}()

// lower folds an ASCII letter to lower case.
func lower(c byte) byte { return lowerTab[c] }

// equalFold reports whether b equals the lower-case ASCII string s, ignoring
// ASCII case in b.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != s[i] {
			return false
		}
	}
	return true
}
