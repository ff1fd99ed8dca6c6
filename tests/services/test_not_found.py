"""A customer, dossier or document someone may not see is refused in the very words of one
that does not exist, or the answer would tell that it exists: both refusals take their
words from one place (errors.not_found)."""

import pytest

from archive.models import AccessGrant, Customer, Document, Dossier
from archive.services import customers, errors, filing
from archive.services.errors import NotFound

MISSING = 10**9
READERS = {"customer": customers.get_customer, "dossier": customers.get_dossier,
           "document": filing.get_document}


def _refusal(call) -> str:
    with pytest.raises(NotFound) as refused:
        call()
    return refused.value.message


@pytest.fixture
def sales_files(make_customer, make_dossier, file_doc):
    """A customer of 销售经营部 with a dossier and a document: the 客服 staff sees none."""
    customer = make_customer()
    dossier = make_dossier(customer)
    return {"customer": customer, "dossier": dossier, "document": file_doc(dossier)}


@pytest.mark.parametrize("kind", list(READERS))
def test_a_hidden_object_is_refused_in_the_words_of_a_missing_one(kind, session, users,
                                                                   sales_files):
    read = READERS[kind]
    hidden = _refusal(lambda: read(session, users["service"], sales_files[kind].id))
    missing = _refusal(lambda: read(session, users["officer"], MISSING))
    assert hidden == missing == errors.not_found(kind).message


@pytest.mark.parametrize("model", [Customer, Dossier, Document])
def test_no_caller_words_a_missing_customer_dossier_or_document_its_own_way(session, model):
    refused = _refusal(lambda: customers.get_or_404(session, model, MISSING, "查无此项"))
    assert refused == errors.not_found(model.__name__.lower()).message


def test_other_rows_are_refused_in_their_callers_words(session):
    assert _refusal(lambda: customers.get_or_404(session, AccessGrant, MISSING, "授权不存在")) \
        == "授权不存在"
