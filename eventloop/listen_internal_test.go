package eventloop

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSameAddr(t *testing.T) {
	v4 := &unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}}
	v6 := &unix.SockaddrInet6{Port: 8080, Addr: [16]byte{15: 1}}
	for _, c := range []struct {
		sa     unix.Sockaddr
		listen string
		want   bool
	}{
		{v4, "127.0.0.1:8080", true},
		{v4, "127.0.0.2:8080", false},
		{v4, "127.0.0.1:8081", false},
		{v4, ":8080", true},
		{v4, "0.0.0.0:8080", true},
		{v6, "[::1]:8080", true},
		{v6, "127.0.0.1:8080", false},
		{v6, "[::]:8080", true},
		{&unix.SockaddrUnix{Name: "x"}, ":8080", false},
	} {
		want, err := net.ResolveTCPAddr("tcp", c.listen)
		if err != nil {
			t.Fatal(err)
		}
		if got := sameAddr(c.sa, want); got != c.want {
			t.Errorf("%+v vs %s: %v, want %v", c.sa, c.listen, got, c.want)
		}
	}
}
