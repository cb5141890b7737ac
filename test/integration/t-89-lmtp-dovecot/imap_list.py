# imap_list.py PORT USER PASSWORD FOLDER: one line per message in FOLDER as Dovecot's IMAP
# sees it: "FLAGS<TAB>Subject", or "NO FOLDER" when the folder does not exist.
import imaplib, re, sys

port, user, password, folder = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with imaplib.IMAP4("127.0.0.1", port, timeout=20) as imap:
    imap.login(user, password)
    typ, _ = imap.select(folder, readonly=True)
    if typ != "OK":
        print("NO FOLDER")
        sys.exit(0)
    typ, data = imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    for item in data:
        if not isinstance(item, tuple):
            continue
        flags = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode()
        subject = item[1].decode(errors="replace").strip().removeprefix("Subject: ")
        print("%s\t%s" % (flags, subject))
