package agentpb

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// MinTokenBytes is the shortest token an agent or a coordinator accepts: a
// guessable token would make the agent anyone's. MaxTokenBytes is the
// longest: the token travels in a call's headers, which an agent bounds
// because it reads them before it knows who calls.
const (
	MinTokenBytes = 16
	MaxTokenBytes = 4 << 10
)

// MaxControlBytes is the largest message an agent accepts: a coordinator
// sends a Prepare (the spec: a URL and headers), a Start or a Stop, and
// a bound this small keeps what any one call can make the agent hold
// small too.
const MaxControlBytes = 64 << 10

// ReadToken reads a bearer token from path: the file's content without
// surrounding white space. A file with nothing else is an error, not "no
// token": it is a secret not yet written, and taking it for none would
// leave an agent open to anyone on loopback.
func ReadToken(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	tok := []byte(strings.TrimSpace(string(data)))
	if len(tok) == 0 {
		err = errors.New("it is empty (or holds only white space)")
	} else {
		err = CheckToken(tok)
	}
	if err != nil {
		return nil, fmt.Errorf("token file %s: %v (make one with: head -c 32 /dev/urandom | base64 > %s)", path, err, path)
	}
	return tok, nil
}

// CheckToken refuses a token too short to be secret, or too long to
// travel; none at all is no token, and passes.
func CheckToken(tok []byte) error {
	switch {
	case len(tok) > 0 && len(tok) < MinTokenBytes:
		return fmt.Errorf("the token has %d bytes; it needs at least %d", len(tok), MinTokenBytes)
	case len(tok) > MaxTokenBytes:
		return fmt.Errorf("the token has %d bytes; it may have at most %d", len(tok), MaxTokenBytes)
	}
	return nil
}

// authorization is the metadata key of the bearer token (RFC 6750 section
// 2.1, as gRPC carries HTTP headers).
const authorization = "authorization"

// TokenCredentials attach token to every call as a bearer token.
func TokenCredentials(token []byte) credentials.PerRPCCredentials {
	return bearer{"Bearer " + string(token)}
}

type bearer struct{ header string }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{authorization: b.header}, nil
}

// RequireTransportSecurity is false so that a token also works over plain
// TCP (loopback, a cluster's own network); the agent warns when it listens
// beyond loopback with a token and no TLS.
func (bearer) RequireTransportSecurity() bool { return false }

// TokenMatches reports whether a call with the metadata md bears want.
// Both sides are hashed first so that the comparison takes the same time
// whatever the length or the content of what was sent.
func TokenMatches(md metadata.MD, want []byte) bool {
	vals := md.Get(authorization)
	if len(vals) != 1 {
		return false
	}
	got, ok := strings.CutPrefix(vals[0], "Bearer ")
	if !ok {
		return false
	}
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256(want)
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// TLSFiles name the PEM files of one side's TLS: its certificate and key,
// and the CA that signs the other side's certificates.
type TLSFiles struct {
	Cert, Key, CA string
}

// Empty reports whether no file is named.
func (f TLSFiles) Empty() bool { return f.Cert == "" && f.Key == "" && f.CA == "" }

// ServerConfig is an agent's TLS: its certificate, and, with a CA, mutual
// TLS: every client must present a certificate that CA signed.
func (f TLSFiles) ServerConfig() (*tls.Config, error) {
	if f.Cert == "" || f.Key == "" {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", f.Cert, f.Key, err)
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	if f.CA != "" {
		pool, err := readPool(f.CA)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// ClientConfig is a coordinator's TLS: the CA that signs the agents'
// certificates (the system's roots without one), and its own certificate
// for mutual TLS.
func (f TLSFiles) ClientConfig() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS13}
	if f.CA != "" {
		pool, err := readPool(f.CA)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	switch {
	case f.Cert != "" && f.Key != "":
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate %s and key %s: %w", f.Cert, f.Key, err)
		}
		c.Certificates = []tls.Certificate{cert}
	case f.Cert != "" || f.Key != "":
		return nil, errors.New("a client certificate needs both its cert and its key")
	}
	return c, nil
}

func readPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("TLS CA %s holds no PEM certificate", path)
	}
	return pool, nil
}
