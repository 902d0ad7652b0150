"""Where each real dataset comes from (`sources:`) and the sha256 that pins a download (`fetch.sha256:`)."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from ferpipe.core.settings import Expect, Settings

Source = Annotated[str | None, Expect("null, an http(s) URL, kaggle:<owner>/<dataset> or a local path")]
Sha256 = Annotated[Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")] | None, Expect("null or 64 hex digits")]


class Sources(Settings):
    """Where each real dataset comes from; $FERPIPE_SOURCE_<DATASET> overrides an entry."""
    key = "sources"
    fer2013: Source = Field(description="FER-2013: fer2013.csv or the Kaggle image-folder layout (a folder, or an "
                                        "archive of it), an http(s) URL or kaggle:<owner>/<dataset>; "
                                        "$FERPIPE_SOURCE_FER2013 overrides it")
    ckplus: Source = Field(description="CK+ in the CK+48 layout (<class>/S<subject>_<sequence>_<frame>.png): a folder, "
                                       "an archive or an http(s) URL; $FERPIPE_SOURCE_CKPLUS overrides it")
    genki4k: Source = Field(description="GENKI-4K (files/ and labels.txt): a folder, an archive or an http(s) URL; "
                                        "$FERPIPE_SOURCE_GENKI4K overrides it")

class Sha256s(Settings):
    """The sha256 of each dataset's archive, checked after a download (required for a URL)."""
    fer2013: Sha256 = Field(description="sha256 of the FER-2013 download or local archive (required for a URL)")
    ckplus: Sha256 = Field(description="sha256 of the CK+ download or local archive (required for a URL)")
    genki4k: Sha256 = Field(description="sha256 of the GENKI-4K download or local archive (required for a URL)")
