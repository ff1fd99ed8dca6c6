"""Bytes the archive hands out (a document's file, a stamped copy, a reader's scan), as
one kind of response for the web pages and the API alike."""

import io

from flask import send_file


def send(data: bytes, mime: str, name: str, *, attachment: bool, private: bool):
    """The bytes as a response: inline, or an attachment named `name`. `private`: a copy
    stamped for one reader at one time, or a credential scan, is never cached or shared."""
    response = send_file(io.BytesIO(data), mimetype=mime, as_attachment=attachment,
                         download_name=name)
    if private:
        response.headers["Cache-Control"] = "private, no-store"
    return response
