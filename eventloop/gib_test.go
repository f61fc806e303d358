package eventloop_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/edgeloop/edgeloop/eventloop"
)

// gib is the size of the full-speed bodies of TestGiBBodies.
const gib = 1 << 30

// stream is gib deterministic pseudo-random bytes: the same seed gives
// the same bytes on both sides without holding them in memory.
func stream(seed uint64) io.Reader {
	var key [32]byte
	key[0] = byte(seed)
	return io.LimitReader(rand.NewChaCha8(key), gib)
}

func sumOf(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// hiddenLength hides a reader's length from net/http, so a request body
// goes out chunked.
type hiddenLength struct{ io.Reader }

// TestGiBBodies sends 1 GiB through the proxy in each direction, framed
// by Content-Length and chunked, at full speed, and compares SHA-256
// checksums taken where the bytes are made and where they arrive. The
// origin and the client are net/http: their framing checks are not ours.
func TestGiBBodies(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("1 GiB bodies run without -race and -short (make test's second pass)")
	}
	want := sha256.New()
	if _, err := io.Copy(want, stream(7)); err != nil {
		t.Fatal(err)
	}
	wantSum := sumOf(want)

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			if r.URL.Query().Get("framing") == "length" {
				w.Header().Set("Content-Length", strconv.Itoa(gib))
			} // otherwise net/http chunks it
			if n, err := io.Copy(w, stream(7)); n != gib || err != nil {
				t.Errorf("origin wrote %d bytes: %v", n, err)
			}
		case "/up":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "%d %s %v", n, sumOf(h), r.TransferEncoding)
		}
	}))
	defer origin.Close()
	p := startProxy(t, eventloop.Options{Loops: 1, Origins: []string{origin.Listener.Addr().String()}})
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	base := "http://" + p.Addr

	for _, framing := range []string{"length", "chunked"} {
		t.Run("download-"+framing, func(t *testing.T) {
			start := time.Now()
			resp, err := client.Get(base + "/down?framing=" + framing)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
			if resp.StatusCode != 200 || chunked != (framing == "chunked") ||
				(framing == "length" && resp.ContentLength != gib) {
				t.Fatalf("status %d, Transfer-Encoding %v, Content-Length %d", resp.StatusCode,
					resp.TransferEncoding, resp.ContentLength)
			}
			h := sha256.New()
			n, err := io.Copy(h, resp.Body)
			if err != nil || n != gib || sumOf(h) != wantSum {
				t.Fatalf("client got %d bytes, sha256 %s (%v), origin sent %d, %s", n, sumOf(h), err, gib, wantSum)
			}
			t.Logf("1 GiB down, %s: %.0f MiB/s", framing, gib/(1<<20)/time.Since(start).Seconds())
		})
		t.Run("upload-"+framing, func(t *testing.T) {
			body := stream(7)
			if framing == "chunked" {
				body = hiddenLength{body}
			}
			req, err := http.NewRequest("POST", base+"/up", body)
			if err != nil {
				t.Fatal(err)
			}
			if framing == "length" {
				req.ContentLength = gib
			}
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			te := "[]"
			if framing == "chunked" {
				te = "[chunked]"
			}
			if w := fmt.Sprintf("%d %s %s", gib, wantSum, te); err != nil || string(got) != w {
				t.Fatalf("origin received %q (%v), want %q", got, err, w)
			}
			t.Logf("1 GiB up, %s: %.0f MiB/s", framing, gib/(1<<20)/time.Since(start).Seconds())
		})
	}
}
