package loadgen

import (
	"bytes"
	"net/url"
	"strings"
)

// buildRequest renders the request every connection sends, repeated
// Pipeline times: the bytes never change, so they are made once.
func buildRequest(o Options, target *url.URL) []byte {
	var b bytes.Buffer
	b.WriteString(o.Method)
	b.WriteByte(' ')
	b.WriteString(target.RequestURI())
	b.WriteString(" HTTP/1.1\r\n")
	hasHost, hasConnection := false, false
	for _, h := range o.Headers {
		hasHost = hasHost || strings.EqualFold(h.Name, "Host")
		hasConnection = hasConnection || strings.EqualFold(h.Name, "Connection")
	}
	if !hasHost {
		b.WriteString("Host: " + target.Host + "\r\n")
	}
	for _, h := range o.Headers {
		b.WriteString(h.Name + ": " + h.Value + "\r\n")
	}
	if o.Close && !hasConnection {
		b.WriteString("Connection: close\r\n")
	}
	b.WriteString("\r\n")
	return bytes.Repeat(b.Bytes(), o.Pipeline)
}
