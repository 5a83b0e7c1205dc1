package http1

import (
	_ "embed"
	"fmt"
	"html/template"
	"strconv"
	"text/template/parse"

	"github.com/sockbench/sockbench/servers"
)

// The thread's page (post #1): a Jinja2 template holding the client's IP
// and the time, 379 bytes rendered for 127.0.0.1; the large one is padded
// with lorem ipsum to 3044 bytes.
var (
	//go:embed page.html.tmpl
	smallSource string
	//go:embed page-large.html.tmpl
	largeSource string
)

// PageSource returns the template text for a body size.
func PageSource(b servers.Body) string {
	if b == servers.BodyLarge {
		return largeSource
	}
	return smallSource
}

// PageData is what the template sees.
type PageData struct {
	ClientIP string
	Time     string
}

// segment is one piece of a compiled template: literal bytes, or a field.
type segment struct {
	literal []byte
	field   field
}

type field uint8

const (
	fieldNone field = iota
	fieldClientIP
	fieldTime
)

// compile turns the template into literal and field segments, so rendering
// is a few appends with no allocation. It accepts only what the page uses —
// text and {{.ClientIP}}/{{.Time}} — and says so for anything else, rather
// than rendering something different from html/template.
func compile(src string) ([]segment, error) {
	trees, err := parse.Parse("page", src, "", "")
	if err != nil {
		return nil, err
	}
	var segs []segment
	for _, n := range trees["page"].Root.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			segs = append(segs, segment{literal: n.Text})
		case *parse.ActionNode:
			f := fieldOf(n)
			if f == fieldNone {
				return nil, fmt.Errorf("page template: unsupported action %s", n)
			}
			segs = append(segs, segment{field: f})
		default:
			return nil, fmt.Errorf("page template: unsupported node %s", n)
		}
	}
	return segs, nil
}

func fieldOf(n *parse.ActionNode) field {
	if len(n.Pipe.Decl) != 0 || len(n.Pipe.Cmds) != 1 || len(n.Pipe.Cmds[0].Args) != 1 {
		return fieldNone
	}
	fn, ok := n.Pipe.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok || len(fn.Ident) != 1 {
		return fieldNone
	}
	switch fn.Ident[0] {
	case "ClientIP":
		return fieldClientIP
	case "Time":
		return fieldTime
	}
	return fieldNone
}

// Page produces the responses of one server: the page for GET / and the
// error answers, with the Server header naming the model, and whether a
// connection outlives an answer.
type Page struct {
	handler servers.Handler
	source  string
	segs    []segment
	static  []byte
	// closeAfterResponse is the close_after_response knob: Conn ends the
	// connection after every answer, without a Connection: close.
	closeAfterResponse bool
	// head200 is everything of a 200 response head before the Date value.
	head200 []byte
	// errHead is the same for error responses, up to the status line's end.
	serverLine []byte
}

// NewPage builds the page for a model's server name from the options that
// shape its answers: the handler, the body size and close_after_response.
func NewPage(serverName string, opts servers.Options) (*Page, error) {
	h := opts.Handler
	src := PageSource(opts.Body)
	segs, err := compile(src)
	if err != nil {
		return nil, err
	}
	p := &Page{handler: h, source: src, segs: segs, closeAfterResponse: opts.CloseAfterResponse}
	p.serverLine = []byte("Server: " + serverName + "\r\n")
	p.head200 = append([]byte("HTTP/1.1 200 OK\r\n"), p.serverLine...)
	p.head200 = append(p.head200, "Content-Type: text/html; charset=utf-8\r\nDate: "...)
	switch h {
	case servers.HandlerStatic:
		// Rendered once, for a loopback client, so it is the same size as
		// the template handler's page in a loopback benchmark.
		p.static = p.render(nil, []byte("127.0.0.1"), Now().PageTime())
	case servers.HandlerTemplate, servers.HandlerTemplateReparse:
	default:
		return nil, fmt.Errorf("unknown handler %q", h)
	}
	return p, nil
}

// render appends the compiled template's output.
func (p *Page) render(out, ip []byte, now []byte) []byte {
	for i := range p.segs {
		switch s := &p.segs[i]; s.field {
		case fieldNone:
			out = append(out, s.literal...)
		case fieldClientIP:
			out = append(out, ip...)
		case fieldTime:
			out = append(out, now...)
		}
	}
	return out
}

func (p *Page) renderedLen(ip, now []byte) int {
	n := 0
	for i := range p.segs {
		switch s := &p.segs[i]; s.field {
		case fieldNone:
			n += len(s.literal)
		case fieldClientIP:
			n += len(ip)
		case fieldTime:
			n += len(now)
		}
	}
	return n
}

// appendWriter lets html/template write straight into a response buffer.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// reparse is the deliberately slow handler: parse, escape-analyse and
// execute the template for every request, as jinja2's enable_async=True
// started an asyncio loop for every render (thread post #5).
func (p *Page) reparse(ip, now []byte) ([]byte, error) {
	t, err := template.New("page").Parse(p.source)
	if err != nil {
		return nil, err
	}
	w := &appendWriter{}
	err = t.Execute(w, PageData{ClientIP: string(ip), Time: string(now)})
	return w.b, err
}

// AppendBody appends just the page for a client at ip, for servers that
// write their own response head (nethttp).
func (p *Page) AppendBody(out, ip []byte) ([]byte, error) {
	now := Now().PageTime()
	switch p.handler {
	case servers.HandlerStatic:
		return append(out, p.static...), nil
	case servers.HandlerTemplateReparse:
		body, err := p.reparse(ip, now)
		return append(out, body...), err
	}
	return p.render(out, ip, now), nil
}

// AppendPage appends the full 200 response for GET (or HEAD, without the
// body) from a client at ip.
func (p *Page) AppendPage(out []byte, ip []byte, head bool, keepAlive bool, minor int) []byte {
	st := Now()
	var body []byte
	bodyLen := 0
	switch p.handler {
	case servers.HandlerStatic:
		body, bodyLen = p.static, len(p.static)
	case servers.HandlerTemplate:
		bodyLen = p.renderedLen(ip, st.PageTime())
	case servers.HandlerTemplateReparse:
		var err error
		if body, err = p.reparse(ip, st.PageTime()); err != nil {
			return p.AppendError(out, 500)
		}
		bodyLen = len(body)
	}
	out = append(out, p.head200...)
	out = append(out, st.Date()...)
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(bodyLen), 10)
	out = appendConnection(out, keepAlive, minor)
	out = append(out, "\r\n\r\n"...)
	if head {
		return out
	}
	if p.handler == servers.HandlerTemplate {
		return p.render(out, ip, st.PageTime())
	}
	return append(out, body...)
}

// appendConnection adds the Connection header where the default does not
// already say what will happen: close on 1.1, keep-alive on 1.0.
func appendConnection(out []byte, keepAlive bool, minor int) []byte {
	switch {
	case !keepAlive:
		return append(out, "\r\nConnection: close"...)
	case minor == 0:
		return append(out, "\r\nConnection: keep-alive"...)
	}
	return out
}

var statusText = map[int]string{
	400: "Bad Request",
	404: "Not Found",
	405: "Method Not Allowed",
	414: "URI Too Long",
	431: "Request Header Fields Too Large",
	500: "Internal Server Error",
	501: "Not Implemented",
	503: "Service Unavailable",
	505: "HTTP Version Not Supported",
}

// StatusText is the reason phrase for the statuses the servers send.
func StatusText(code int) string { return statusText[code] }

// AppendError appends an error response that closes the connection: after a
// malformed request the server cannot know where the next one starts.
func (p *Page) AppendError(out []byte, code int) []byte {
	return p.appendStatus(out, code, false, 1)
}

// appendStatus appends a short text/plain response for a status code.
func (p *Page) appendStatus(out []byte, code int, keepAlive bool, minor int) []byte {
	text := statusText[code]
	out = append(out, "HTTP/1.1 "...)
	out = strconv.AppendInt(out, int64(code), 10)
	out = append(out, ' ')
	out = append(out, text...)
	out = append(out, "\r\n"...)
	out = append(out, p.serverLine...)
	out = append(out, "Content-Type: text/plain; charset=utf-8\r\nDate: "...)
	out = append(out, Now().Date()...)
	if code == 405 {
		out = append(out, "\r\nAllow: GET, HEAD"...)
	}
	out = append(out, "\r\nContent-Length: "...)
	out = strconv.AppendInt(out, int64(len(text)+1), 10)
	out = appendConnection(out, keepAlive, minor)
	out = append(out, "\r\n\r\n"...)
	out = append(out, text...)
	return append(out, '\n')
}
