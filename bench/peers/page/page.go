// Package page holds what every peer server sends for GET /: sockbench's
// own page (servers/http1) rendered for a loopback client at a fixed time,
// 379 bytes, byte for byte the body bench/nginx configures. A test in
// bench/nginx keeps the copies equal.
package page

import _ "embed"

// Body is the response body for GET /.
//
//go:embed page.html
var Body []byte

// ContentType is the Content-Type every peer sends with Body.
const ContentType = "text/html; charset=utf-8"
