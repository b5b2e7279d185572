/*
 * test_s3_sign.c - the SigV4 signer against AWS's published examples: the S3
 * "GET Object" example with a Range header (signed, as every ranged GET is)
 * and the signature test suite's get-vanilla-query-order-key-case (query
 * parameters sorted), plus the encodings a listing's query string needs.
 */
#include "test.h"

#include "objstore/s3_sign.h"

#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

TEST(s3_get_object_with_range)
{
    s3_kv h[] = {{"x-amz-date", "20130524T000000Z"},
                 {"range", "bytes=0-9"},
                 {"host", "examplebucket.s3.amazonaws.com"},
                 {"x-amz-content-sha256", EMPTY_SHA}};
    s3_sign_in in = {.method = "GET",
                     .canon_uri = "/test.txt",
                     .headers = h,
                     .nheaders = 4,
                     .payload_sha256 = EMPTY_SHA,
                     .amz_date = "20130524T000000Z",
                     .region = "us-east-1",
                     .service = "s3",
                     .access_key = "AKIAIOSFODNN7EXAMPLE",
                     .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"};
    dbuf auth, canon, sts;
    dbuf_init(&auth, 4096);
    dbuf_init(&canon, 4096);
    dbuf_init(&sts, 4096);
    CHECK_OK(s3_sign(&in, &auth, &canon, &sts));
    CHECK_STR((const char *)canon.p,
              "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
              "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:20130524T000000Z\n\n"
              "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    CHECK_STR((const char *)sts.p,
              "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
              "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK_STR((const char *)auth.p,
              "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
              "aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
              "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    dbuf_free(&auth);
    dbuf_free(&canon);
    dbuf_free(&sts);
}

TEST(suite_query_order_key_case)
{
    s3_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    s3_kv h[] = {{"host", "example.amazonaws.com"}, {"x-amz-date", "20150830T123600Z"}};
    s3_sign_in in = {.method = "GET",
                     .canon_uri = "/",
                     .query = q,
                     .nquery = 2,
                     .headers = h,
                     .nheaders = 2,
                     .payload_sha256 = EMPTY_SHA,
                     .amz_date = "20150830T123600Z",
                     .region = "us-east-1",
                     .service = "service",
                     .access_key = "AKIDEXAMPLE",
                     .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
    dbuf auth;
    dbuf_init(&auth, 4096);
    CHECK_OK(s3_sign(&in, &auth, NULL, NULL));
    CHECK(strstr((const char *)auth.p,
                 "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5"
                 "beff61c982a1b6f458b799221646efd99d3219ec94cdf2500") != NULL);
    dbuf_free(&auth);
}

TEST(query_and_uri_encoding)
{
    /* A continuation token holds '+', '/' and '='; an empty value keeps its '='. */
    s3_kv q[] = {{"prefix", "p/views/"},
                 {"list-type", "2"},
                 {"continuation-token", "1ab+c/d=="},
                 {"uploads", ""}};
    dbuf b;
    dbuf_init(&b, 4096);
    CHECK_OK(s3_query_append(&b, q, 4));
    CHECK_STR((const char *)b.p, "continuation-token=1ab%2Bc%2Fd%3D%3D&list-type=2&"
                                 "prefix=p%2Fviews%2F&uploads=");
    dbuf_reset(&b);
    CHECK_OK(s3_uri_encode(&b, "a b/c~d*", 8, 1));
    CHECK_STR((const char *)b.p, "a%20b/c~d%2A");
    char hex[65];
    s3_sha256_hex("", 0, hex);
    CHECK_STR(hex, EMPTY_SHA);
    dbuf_free(&b);
}
