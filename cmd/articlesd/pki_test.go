package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// pki is a throwaway certificate authority made for one test, with a
// server certificate for localhost and 127.0.0.1 and a client certificate,
// written as PEM files in a test directory. Nothing is committed to disk
// beyond the test.
type pki struct {
	dir                   string
	caFile                string // the CA certificate
	serverCert, serverKey string
	clientCert, clientKey string
	roots                 *x509.CertPool
	client                tls.Certificate
}

// newPKI makes a CA named name and its certificates.
func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir(), roots: x509.NewCertPool()}
	caKey := newKey(t)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	p.roots.AddCert(ca)
	p.caFile = p.writePEM(t, "ca.pem", "CERTIFICATE", caDER)

	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dns,
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	der, key := leaf(2, "articlesd", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	p.serverCert = p.writePEM(t, "server.pem", "CERTIFICATE", der)
	p.serverKey = p.writeKey(t, "server-key.pem", key)
	der, key = leaf(3, "test client", x509.ExtKeyUsageClientAuth, nil, nil)
	p.clientCert = p.writePEM(t, "client.pem", "CERTIFICATE", der)
	p.clientKey = p.writeKey(t, "client-key.pem", key)
	p.client = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return p
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func (p *pki) writePEM(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (p *pki) writeKey(t *testing.T, name string, key *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.writePEM(t, name, "PRIVATE KEY", der)
}

// serverArgs are the articlesd flags serving TLS with p's server
// certificate.
func (p *pki) serverArgs() []string {
	return []string{"--tls-cert", p.serverCert, "--tls-key", p.serverKey}
}

// tlsConn dials the daemon over TLS trusting roots and presenting certs;
// the connection is closed when the test ends.
func (d *daemon) tlsConn(roots *x509.CertPool, certs ...tls.Certificate) *grpc.ClientConn {
	d.t.Helper()
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: certs, MinVersion: tls.VersionTLS12})
	cc, err := grpc.NewClient(d.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		d.t.Fatalf("grpc.NewClient(%q): %v", d.addr, err)
	}
	d.t.Cleanup(func() { _ = cc.Close() })
	return cc
}
