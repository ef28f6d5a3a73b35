# From backendless-openai-image-service.txt, verbatim; test/e2e/dialects.test.ts changes the host and the key only.
curl -X "POST" "https://xxx.backendless.app/api/services/OpenAIImageService/createImage" \
    -H 'Content-Type: application/json' \
    -H 'Accept: application/json' \
    -d $'{
	"prompt": "A cat in a hat",
	"numberOfImages": 1,
	"size": "512x512"
}'
