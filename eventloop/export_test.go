package eventloop

// EpollFD exposes the backpressure hook to the black-box tests.
var EpollFD = epollFD
