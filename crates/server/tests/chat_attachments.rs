//! Chat attachments end to end over HTTP and WebSocket: images re-encoded without their EXIF
//! (GPS included), thumbnails, files that only ever download, who may fetch what, and the
//! per-file, per-image and per-person limits.

mod common;

use common::chat::{alice, bob, carol, direct, hello, upload};
use common::{Client, TestServer, Verified};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// What the EXIF block of the test photo says where it was taken; must never come back.
const GPS_SECRET: &str = "GPS-SECRET-48.8584N-2.2945E";

/// A JPEG of `width` x `height` whose EXIF says "rotate 90° clockwise" (orientation 6) and
/// holds a GPS block (latitude reference and a map datum carrying [`GPS_SECRET`]).
fn jpeg_with_exif_gps(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 90]));
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .expect("encode jpeg");
    let jpeg = jpeg.into_inner();

    // TIFF, little endian: IFD0 at 8 with Orientation and the GPS IFD pointer; the GPS IFD at
    // 38 with GPSLatitudeRef and GPSMapDatum, whose text sits at 68.
    let mut tiff = Vec::new();
    tiff.extend_from_slice(b"II\x2a\x00");
    tiff.extend_from_slice(&8u32.to_le_bytes());
    let entry = |tiff: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]| {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&kind.to_le_bytes());
        tiff.extend_from_slice(&count.to_le_bytes());
        tiff.extend_from_slice(&value);
    };
    tiff.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut tiff, 0x0112, 3, 1, [6, 0, 0, 0]);
    entry(&mut tiff, 0x8825, 4, 1, 38u32.to_le_bytes());
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), 38);
    let datum = format!("{GPS_SECRET}\0");
    tiff.extend_from_slice(&2u16.to_le_bytes());
    entry(&mut tiff, 0x0001, 2, 2, *b"N\0\0\0");
    entry(
        &mut tiff,
        0x0012,
        2,
        datum.len() as u32,
        68u32.to_le_bytes(),
    );
    tiff.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(tiff.len(), 68);
    tiff.extend_from_slice(datum.as_bytes());

    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = jpeg[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&u16::try_from(app1.len() + 2).expect("short").to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::new_rgb8(width, height)
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

async fn upload_ok(user: &Verified, channel: i64, name: &str, bytes: Vec<u8>) -> Value {
    let (status, body) = upload(&user.client, channel, name, bytes).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn send_files(
    user: &Verified,
    channel: i64,
    text: &str,
    files: &[&Value],
    client_id: Option<&str>,
) -> (StatusCode, Value) {
    let ids: Vec<&Value> = files.iter().map(|f| &f["id"]).collect();
    let mut body = json!({"text": text, "attachments": ids});
    if let Some(cid) = client_id {
        body["client_id"] = json!(cid);
    }
    user.client
        .post_json(&format!("/api/channels/{channel}/messages"), &body)
        .await
        .expect("send")
}

/// `GET path` as status, headers and raw bytes.
async fn raw(client: &Client, path: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let response = client.http.get(client.url(path)).send().await.expect("get");
    let (status, headers) = (response.status(), response.headers().clone());
    (
        status,
        headers,
        response.bytes().await.expect("body").to_vec(),
    )
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_photo_is_reencoded_without_its_exif_gps_and_only_members_can_fetch_it() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let original = jpeg_with_exif_gps(640, 320);
    assert!(
        contains(&original, GPS_SECRET.as_bytes()),
        "the fixture holds the GPS block"
    );
    assert_eq!(
        image::load_from_memory(&original)
            .expect("fixture decodes")
            .width(),
        640
    );

    let file = upload_ok(&a, channel, "IMG_0001.JPG", original).await;
    assert_eq!(file["kind"], "image");
    assert_eq!(file["content_type"], "image/jpeg");
    // Orientation 6 was applied: the stored picture is upright, so taller than wide.
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(320), Some(640))
    );
    let url = file["url"].as_str().expect("url").to_owned();
    let thumb_url = file["thumb_url"].as_str().expect("thumb url").to_owned();

    // Not sent yet: the uploader sees it, the other member does not.
    assert_eq!(raw(&a.client, &url).await.0, StatusCode::OK);
    assert_eq!(raw(&b.client, &url).await.0, StatusCode::NOT_FOUND);

    let mut wb = b.client.ws("").await.expect("bob socket");
    hello(&mut wb).await;
    let (status, sent) = send_files(&a, channel, "", &[&file], None).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["text"], "", "a photo needs no caption");
    assert_eq!(sent["attachments"][0]["id"], file["id"]);
    let event = wb.next_of("message.new").await.expect("message.new");
    assert_eq!(event["message"]["attachments"][0]["url"], url.as_str());

    let (status, headers, served) = raw(&b.client, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert!(header(&headers, "content-disposition").starts_with("inline; "));
    assert!(header(&headers, "content-security-policy").contains("sandbox"));
    assert!(
        !contains(&served, GPS_SECRET.as_bytes()),
        "the GPS block is gone"
    );
    assert!(!contains(&served, b"Exif"), "no EXIF segment at all");
    let decoded = image::load_from_memory(&served).expect("served image decodes");
    assert_eq!((decoded.width(), decoded.height()), (320, 640));

    let (status, headers, thumb) = raw(&b.client, &thumb_url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, "content-type"), "image/jpeg");
    let thumb = image::load_from_memory(&thumb).expect("thumb decodes");
    assert_eq!((thumb.width(), thumb.height()), (160, 320));

    let (_, headers, _) = raw(&b.client, &format!("{url}?download=1")).await;
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"IMG_0001.JPG\"; filename*=UTF-8''IMG_0001.JPG"
    );

    // Someone outside the channel, or an id that names nothing: the same 404.
    for path in [
        url.as_str(),
        thumb_url.as_str(),
        "/api/attachments/999999",
        "/api/attachments/x",
    ] {
        let (status, _, body) = raw(&c.client, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        let body: Value = serde_json::from_slice(&body).expect("json error");
        assert_eq!(body["error"]["code"], "not_found");
    }
    let (_, page) = b
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(
        page["messages"][0]["attachments"][0]["thumb_url"],
        thumb_url.as_str()
    );
}

#[tokio::test]
async fn any_other_file_downloads_as_octet_stream_under_a_safe_name() {
    let server = TestServer::start().await.expect("server");
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;
    let page = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let file = upload_ok(&a, channel, "../../Ünïcode report;.html", page.clone()).await;
    assert_eq!(file["kind"], "file");
    assert_eq!(file["name"], "Ünïcode report;.html");
    assert_eq!(file["thumb_url"], Value::Null);
    let (status, _) = send_files(&a, channel, "the report", &[&file], None).await;
    assert_eq!(status, StatusCode::CREATED);

    let url = file["url"].as_str().expect("url");
    let (status, headers, served) = raw(&b.client, url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(served, page, "a file is kept byte for byte");
    assert_eq!(header(&headers, "content-type"), "application/octet-stream");
    assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
    assert_eq!(
        header(&headers, "content-disposition"),
        "attachment; filename=\"_n_code report_.html\"; \
         filename*=UTF-8''%C3%9Cn%C3%AFcode%20report%3B.html"
    );
    assert_eq!(
        raw(&b.client, &format!("{url}/thumb")).await.0,
        StatusCode::NOT_FOUND
    );

    // A GIF is not re-encoded here, so it is a file too: never shown inline.
    let gif = upload_ok(&a, channel, "anim.gif", b"GIF89a\x01\x00\x01\x00".to_vec()).await;
    assert_eq!(
        (gif["kind"].as_str(), gif["content_type"].as_str()),
        (Some("file"), Some("application/octet-stream"))
    );
    // A file that says it is a PNG but is not one is refused, not stored as an image.
    let mut broken = png(50, 50);
    broken.truncate(40);
    let (status, body) = upload(&a.client, channel, "broken.png", broken).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "image_invalid");
}

#[tokio::test]
async fn sizes_pixels_and_the_quota_are_refused_with_413_and_deleting_frees_the_quota() {
    let server = common::start(|c| {
        c.limits.attachment_bytes = 1000;
        c.limits.attachment_pixels = 10_000;
        c.limits.attachment_quota_bytes = 2500;
    })
    .await;
    let (a, b) = (alice(&server).await, bob(&server).await);
    let channel = direct(&a, &b).await;

    let (status, body) = upload(&a.client, channel, "big.bin", vec![7; 1001]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most"),
        "{body}"
    );
    // Far past the body limit: refused while it streams, with the same answer.
    let (status, body) = upload(&a.client, channel, "huge.bin", vec![7; 200_000]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");

    let (status, body) = upload(&a.client, channel, "wide.png", png(200, 100)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("megapixels"),
        "{body}"
    );

    let first = upload_ok(&a, channel, "one.bin", vec![1; 900]).await;
    upload_ok(&a, channel, "two.bin", vec![2; 900]).await;
    let (status, body) = upload(&a.client, channel, "three.bin", vec![3; 900]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "attachment_quota_exceeded");
    // The quota is one person's: the other member still has all of theirs.
    upload_ok(&b, channel, "bobs.bin", vec![4; 900]).await;

    let (_, sent) = send_files(&a, channel, "one", &[&first], None).await;
    let mid = sent["id"].as_i64().expect("id");
    let (status, _) = a
        .client
        .delete(&format!("/api/channels/{channel}/messages/{mid}"))
        .await
        .expect("delete");
    assert_eq!(status, StatusCode::NO_CONTENT);
    let url = first["url"].as_str().expect("url");
    assert_eq!(
        raw(&a.client, url).await.0,
        StatusCode::NOT_FOUND,
        "a deleted message's file is gone"
    );
    upload_ok(&a, channel, "three.bin", vec![3; 900]).await;
}

#[tokio::test]
async fn a_send_names_only_my_own_unsent_uploads_to_that_channel() {
    let server = TestServer::start().await.expect("server");
    let (a, b, c) = (
        alice(&server).await,
        bob(&server).await,
        carol(&server).await,
    );
    let channel = direct(&a, &b).await;
    let other = direct(&a, &c).await;
    let mine = upload_ok(&a, channel, "mine.txt", b"mine".to_vec()).await;
    let bobs = upload_ok(&b, channel, "bobs.txt", b"bobs".to_vec()).await;
    let elsewhere = upload_ok(&a, other, "elsewhere.txt", b"elsewhere".to_vec()).await;

    for (files, why) in [
        (vec![&bobs], "someone else's upload"),
        (vec![&elsewhere], "an upload to another channel"),
        (vec![&mine, &mine], "the same file twice"),
    ] {
        let (status, body) = send_files(&a, channel, "x", &files, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
    }
    let (_, page) = a
        .client
        .get(&format!("/api/channels/{channel}/messages"))
        .await
        .expect("history");
    assert_eq!(page["messages"], json!([]), "a refused send stored nothing");
    // Carol cannot upload into a channel she is not in.
    let (status, _) = upload(&c.client, channel, "x.txt", b"x".to_vec()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A retry of the same send returns the stored message with its file; the file is then
    // taken and cannot be sent twice.
    let (status, sent) = send_files(&a, channel, "", &[&mine], Some("c1")).await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (status, again) = send_files(&a, channel, "", &[&mine], Some("c1")).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["id"], sent["id"]);
    assert_eq!(again["attachments"][0]["id"], mine["id"]);
    let (status, _) = send_files(&a, channel, "", &[&mine], Some("c2")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // No text and no file is still an empty message.
    let (status, _) = send_files(&a, channel, " ", &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn openapi_lists_every_answer_of_the_attachment_routes() {
    let server = TestServer::start().await.expect("server");
    let doc = common::chat::openapi(&server).await;
    let statuses = |path: &str, method: &str| common::chat::statuses(&doc, path, method);
    assert_eq!(
        statuses("/api/channels/{id}/attachments", "post"),
        ["201", "400", "401", "403", "404", "413", "429", "503"]
    );
    assert_eq!(
        statuses("/api/attachments/{id}", "get"),
        ["200", "400", "401", "403", "404"]
    );
    assert_eq!(
        statuses("/api/attachments/{id}/thumb", "get"),
        ["200", "401", "403", "404"]
    );
    let send = &doc["components"]["schemas"]["SendMessage"]["properties"]["attachments"];
    assert_eq!(send["type"], "array", "{send}");
    assert!(doc["components"]["schemas"]["MessageView"]["properties"]["attachments"].is_object());
}
