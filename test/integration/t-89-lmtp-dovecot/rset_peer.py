# rset_peer.py SOCKET LOG: a scripted LMTP server on a unix socket for t-89's reuse scenario. It
# logs "CONNECTION COMMAND" per command; its first connection answers RSET with 421 and hangs up
# (a server that went away while our connection sat idle), later ones serve normally.
import socket, sys
path = sys.argv[1]
srv = socket.socket(socket.AF_UNIX); srv.bind(path); srv.listen(5)
conn_no = 0
log = open(sys.argv[2], 'a', buffering=1)
while True:
    c, _ = srv.accept(); conn_no += 1
    f = c.makefile('rb')
    c.sendall(b'220 peer LMTP\r\n')
    msgs = 0
    while True:
        line = f.readline()
        if not line: break
        cmd = line.strip().upper()
        log.write('%d %s\n' % (conn_no, cmd.decode()))
        if cmd.startswith(b'LHLO'): c.sendall(b'250-peer\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n')
        elif cmd.startswith(b'MAIL'): c.sendall(b'250 2.1.0 OK\r\n')
        elif cmd.startswith(b'RCPT'): c.sendall(b'250 2.1.5 OK\r\n')
        elif cmd == b'DATA':
            c.sendall(b'354 OK\r\n')
            while f.readline() not in (b'.\r\n', b''): pass
            msgs += 1
            c.sendall(b'250 2.0.0 <x> conn%d Saved\r\n' % conn_no)
        elif cmd == b'RSET':
            if conn_no == 1:
                c.sendall(b'421 4.3.2 going away\r\n'); break
            c.sendall(b'250 2.0.0 OK\r\n')
        elif cmd == b'QUIT': break
    c.close()
