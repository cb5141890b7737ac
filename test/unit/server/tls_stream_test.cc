// TlsStream over a pipe (no sockets): writes leave in order, what the pipe does not take is
// queued and reported when written, a refused write is reported at once, detach() silences
// the writes still in flight, and receive() drives a TLS handshake against a client engine.
#include "petrel/server/tls_stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>
#include <uv.h>

#include <string>

namespace petrel::server {
namespace {

std::string testdata(std::string_view file) {
  return std::string(PETREL_SOURCE_ROOT) + "/test/testdata/tls/" + std::string(file);
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::signal(SIGPIPE, SIG_IGN);  // a closed read end must fail the write, not kill the test
    ASSERT_EQ(uv_loop_init(&loop_), 0);
    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    read_fd_ = fds[0];
    ASSERT_EQ(::fcntl(read_fd_, F_SETFL, O_NONBLOCK), 0);
    ASSERT_EQ(uv_pipe_init(&loop_, &pipe_, 0), 0);
    ASSERT_EQ(uv_pipe_open(&pipe_, fds[1]), 0);
    stream_.attach(reinterpret_cast<uv_stream_t*>(&pipe_));
  }
  void TearDown() override {
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
    if (read_fd_ >= 0) ::close(read_fd_);
  }

  // Everything the pipe holds now.
  std::string drain() {
    std::string out;
    char buf[65536];
    for (ssize_t n; (n = ::read(read_fd_, buf, sizeof buf)) > 0;) out.append(buf, size_t(n));
    return out;
  }

  uv_loop_t loop_{};
  uv_pipe_t pipe_{};
  int read_fd_ = -1;
  int written_ = 0;
  int failed_ = 0;
  int last_status_ = 0;
  TlsStream stream_{{[this] { ++written_; },
                     [this](int status) {
                       ++failed_;
                       last_status_ = status;
                     }}};
};

TEST_F(TlsStreamTest, PlaintextGoesOutAtOnce) {
  EXPECT_FALSE(stream_.encrypted());
  ASSERT_TRUE(stream_.write("220 ready\r\n"));
  EXPECT_FALSE(stream_.writing());
  EXPECT_EQ(drain(), "220 ready\r\n");
  EXPECT_EQ(written_, 0);  // nothing was queued, so nothing to report
}

TEST_F(TlsStreamTest, WhatThePipeDoesNotTakeIsQueuedInOrder) {
  std::string big(1 << 20, 'a');  // far more than a pipe buffer
  ASSERT_TRUE(stream_.write(big));
  EXPECT_TRUE(stream_.writing());
  ASSERT_TRUE(stream_.write("tail"));  // behind the queued write, not before it
  std::string got;
  while (stream_.writing()) {
    got += drain();
    uv_run(&loop_, UV_RUN_NOWAIT);
  }
  got += drain();
  EXPECT_EQ(got, big + "tail");
  EXPECT_EQ(written_, 2);
  EXPECT_EQ(failed_, 0);
}

TEST_F(TlsStreamTest, RefusedWriteIsReportedAtOnce) {
  ::close(read_fd_);
  read_fd_ = -1;
  ASSERT_TRUE(stream_.write("lost"));
  EXPECT_EQ(failed_, 1);
  EXPECT_EQ(last_status_, UV_EPIPE);
  EXPECT_FALSE(stream_.writing());
}

TEST_F(TlsStreamTest, DetachSilencesWritesInFlight) {
  ASSERT_TRUE(stream_.write(std::string(1 << 20, 'a')));
  ASSERT_TRUE(stream_.writing());
  stream_.detach();
  EXPECT_FALSE(stream_.writing());
  ASSERT_TRUE(stream_.write("dropped"));  // no handle: nothing happens
  drain();
  // The queued write ends with the handle (ECANCELED) or completes: neither is reported.
  uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_pipe_init(&loop_, &pipe_, 0);  // for TearDown
  EXPECT_EQ(written_, 0);
  EXPECT_EQ(failed_, 0);
}

TEST_F(TlsStreamTest, ReceiveDrivesTheHandshakeAndDecrypts) {
  tls::ServerSettings settings;
  settings.certificates = {{testdata("mail.example.test.crt"), testdata("mail.example.test.key")}};
  auto ctx = tls::ServerContext::create(settings);
  ASSERT_TRUE(ctx) << ctx.error().message();
  auto server = tls::Engine::server(*ctx);
  ASSERT_TRUE(server);
  stream_.startTls(std::move(*server));
  EXPECT_TRUE(stream_.encrypted());
  EXPECT_FALSE(stream_.handshakeDone());

  tls::ClientSettings cs;
  cs.sni = "mail.example.test";
  auto client = tls::Engine::client(cs);
  ASSERT_TRUE(client);
  tls::Engine& peer = **client;
  int completed = 0;
  for (int round = 0; round < 10 && !peer.handshakeDone(); ++round) {
    std::string hello = peer.takeOutput();
    if (hello.empty()) break;
    TlsStream::Input in = stream_.receive(hello);
    ASSERT_TRUE(in.status) << in.status.error().message();
    completed += in.handshake_done ? 1 : 0;
    ASSERT_TRUE(peer.feed(drain()));  // the server's answer went out through the pipe
  }
  ASSERT_TRUE(peer.handshakeDone());
  ASSERT_TRUE(peer.write("EHLO client\r\n"));
  TlsStream::Input in = stream_.receive(peer.takeOutput());
  ASSERT_TRUE(in.status);
  completed += in.handshake_done ? 1 : 0;
  EXPECT_EQ(completed, 1);  // reported once, by the input that completed it
  EXPECT_TRUE(stream_.handshakeDone());
  EXPECT_EQ(in.plaintext, "EHLO client\r\n");

  ASSERT_TRUE(stream_.write("250 ok\r\n"));
  ASSERT_TRUE(peer.feed(drain()));
  EXPECT_EQ(peer.takePlaintext(), "250 ok\r\n");

  peer.shutdown();
  in = stream_.receive(peer.takeOutput());
  EXPECT_TRUE(in.peer_closed);
}

TEST_F(TlsStreamTest, GarbageDuringTheHandshakeFailsIt) {
  tls::ServerSettings settings;
  settings.certificates = {{testdata("mail.example.test.crt"), testdata("mail.example.test.key")}};
  auto ctx = tls::ServerContext::create(settings);
  ASSERT_TRUE(ctx);
  auto server = tls::Engine::server(*ctx);
  ASSERT_TRUE(server);
  stream_.startTls(std::move(*server));
  TlsStream::Input in = stream_.receive("EHLO plaintext\r\n");
  ASSERT_FALSE(in.status);
  EXPECT_TRUE(in.during_handshake);
  EXPECT_FALSE(in.handshake_done);
}

}  // namespace
}  // namespace petrel::server
