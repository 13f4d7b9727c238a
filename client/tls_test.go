package client_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed9c1868aa/articles/client"
)

// testPKI is a throwaway CA with a server certificate for localhost and
// 127.0.0.1 and a client certificate, all made in memory for one test.
type testPKI struct {
	roots  *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
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
	leaf := func(serial int64, usage x509.ExtKeyUsage, dns []string, ips []net.IP) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "test leaf"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			DNSNames:     dns,
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	p := &testPKI{roots: x509.NewCertPool()}
	p.roots.AddCert(ca)
	p.server = leaf(2, x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	p.client = leaf(3, x509.ExtKeyUsageClientAuth, nil, nil)
	return p
}

// TestClientCertificate serves the API over mTLS on an in-memory listener
// and checks that only a client presenting a certificate from the CA gets
// through.
func TestClientCertificate(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	serverTLS := &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.roots,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	e := newClientEnv(t, []grpc.ServerOption{grpc.Creds(credentials.NewTLS(serverTLS))})
	roots := &tls.Config{RootCAs: pki.roots}

	tests := []struct {
		name string
		opts []client.Option
		want codes.Code
	}{
		{name: "CertAndToken", opts: []client.Option{client.WithTLS(roots), client.WithClientCertificate(pki.client), client.WithToken("s")}, want: codes.NotFound},
		{name: "CertBeforeTLS", opts: []client.Option{client.WithClientCertificate(pki.client), client.WithTLS(roots)}, want: codes.NotFound},
		{name: "NoCert", opts: []client.Option{client.WithTLS(roots)}, want: codes.Unavailable},
		{name: "ServerCertAsClientCert", opts: []client.Option{client.WithTLS(roots), client.WithClientCertificate(pki.server)}, want: codes.Unavailable},
		{name: "Plaintext", want: codes.Unavailable},
		{name: "UntrustedServer", opts: []client.Option{client.WithClientCertificate(pki.client)}, want: codes.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The authority "localhost" is the name the server certificate
			// is checked against; the dialer goes to the in-memory listener.
			opts := append([]client.Option{
				client.WithRetry(1),
				client.WithDialOptions(grpc.WithContextDialer(e.dialer(nil))),
			}, tt.opts...)
			c, err := client.New(context.Background(), "passthrough:///localhost", opts...)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = c.Get(ctx, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
			wantCode(t, err, tt.want)
		})
	}
}

// TestClientCertificateOptions checks how WithClientCertificate combines
// with the other transport options in New.
func TestClientCertificateOptions(t *testing.T) {
	t.Parallel()
	cert := newTestPKI(t).client
	tests := []struct {
		name    string
		target  string
		opts    []client.Option
		wantErr string
	}{
		{name: "ImpliesTLSSoTokenMayGoRemote", target: "example.com:443", opts: []client.Option{client.WithClientCertificate(cert), client.WithToken("s")}},
		{name: "WithOpaqueCredentials", target: "localhost:1", opts: []client.Option{client.WithTransportCredentials(insecure.NewCredentials()), client.WithClientCertificate(cert)}, wantErr: "WithClientCertificate"},
		{name: "TLSReplacesPlaintextCredentials", target: "example.com:443", opts: []client.Option{client.WithTransportCredentials(insecure.NewCredentials()), client.WithTLS(nil), client.WithToken("s")}},
		{name: "PlaintextReplacesTLS", target: "example.com:443", opts: []client.Option{client.WithTLS(nil), client.WithTransportCredentials(insecure.NewCredentials()), client.WithToken("s")}, wantErr: "plaintext"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := client.New(context.Background(), tt.target, tt.opts...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}
