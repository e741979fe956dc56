package jsonrpc

import (
	"encoding/json"
	"errors"
)

// The direct path reads the common shape of a call without reflection:
// the keys jsonrpc, id, method and params, each at most once and spelled
// so, plain ASCII strings without escapes, an integer or plain string id
// and an array of params. Anything else — other keys, other casings,
// duplicates, escapes, odd ids, params that are not an array — is left to
// encoding/json, which decodes it as go-ethereum does (case-insensitive
// keys, the last duplicate winning). So whatever DecodeCall accepts, it
// decodes exactly as json.Unmarshal would (TestDecodeCallMatchesEncodingJSON,
// FuzzDecodeCall).

var errShape = errors.New("not the common shape")

// DecodeCall decodes a single call in the common shape; ok is false when
// data is anything else (then json.Unmarshal decides).
func DecodeCall(data []byte) (call Call, ok bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return Call{}, false
	}
	i = skipSpace(data, i+1)
	var seen [4]bool
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		for {
			key, j, ok := plainString(data, i)
			if !ok {
				return Call{}, false
			}
			j = skipSpace(data, j)
			if j >= len(data) || data[j] != ':' {
				return Call{}, false
			}
			j = skipSpace(data, j+1)
			var end int
			switch key {
			case "jsonrpc":
				if seen[0] {
					return Call{}, false
				}
				seen[0] = true
				var v string
				if v, end, ok = plainString(data, j); !ok {
					return Call{}, false
				}
				call.Version = v
			case "method":
				if seen[1] {
					return Call{}, false
				}
				seen[1] = true
				var v string
				if v, end, ok = plainString(data, j); !ok {
					return Call{}, false
				}
				call.Method = v
			case "id":
				if seen[2] {
					return Call{}, false
				}
				seen[2] = true
				if j < len(data) && data[j] == '"' {
					if _, end, ok = plainString(data, j); !ok {
						return Call{}, false
					}
				} else if end, ok = integer(data, j); !ok {
					return Call{}, false
				}
				call.ID = data[j:end:end]
			case "params":
				if seen[3] {
					return Call{}, false
				}
				seen[3] = true
				if j >= len(data) || data[j] != '[' {
					return Call{}, false
				}
				var err error
				if end, err = skipValue(data, j); err != nil || !json.Valid(data[j:end]) {
					return Call{}, false
				}
				call.Params = data[j:end:end]
			default:
				return Call{}, false
			}
			i = skipSpace(data, end)
			if i >= len(data) {
				return Call{}, false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return Call{}, false
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return Call{}, false
	}
	return call, true
}

// splitArray returns the raw elements of a JSON array; each element is
// delimited, not validated (json.Unmarshal of the element does that).
func splitArray(data []byte) ([][]byte, error) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '[' {
		return nil, errShape
	}
	var out [][]byte
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		i++
	} else {
		for {
			end, err := skipValue(data, i)
			if err != nil {
				return nil, err
			}
			out = append(out, data[i:end:end])
			i = skipSpace(data, end)
			if i >= len(data) {
				return nil, errShape
			}
			if data[i] == ']' {
				i++
				break
			}
			if data[i] != ',' {
				return nil, errShape
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return nil, errShape
	}
	return out, nil
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a string of printable ASCII without escapes at i and
// returns it and the index after its closing quote.
func plainString(data []byte, i int) (string, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return string(data[i+1 : j]), j + 1, true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return "", 0, false
		}
	}
	return "", 0, false
}

// integer reads a JSON integer (no fraction, no exponent) at i.
func integer(data []byte, i int) (int, bool) {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data) || data[i] < '0' || data[i] > '9':
		return 0, false
	case data[i] == '0':
		i++
	default:
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == '.' || data[i] == 'e' || data[i] == 'E' || (data[i] >= '0' && data[i] <= '9')) {
		return 0, false
	}
	return i, true
}

// skipValue returns the index after the JSON value starting at i: the
// matching bracket of an object or array (strings inside skipped), the
// closing quote of a string, or the end of a scalar token.
func skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errShape
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, err := skipString(data, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errShape
	case ',', ':', '}', ']':
		return 0, errShape
	}
	j := i
	for j < len(data) && data[j] != ',' && data[j] != ']' && data[j] != '}' && data[j] != ' ' && data[j] != '\t' && data[j] != '\n' && data[j] != '\r' {
		j++
	}
	return j, nil
}

func skipString(data []byte, i int) (int, error) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, errShape
}
