# From backendless-openai-image-service.txt, verbatim; test/e2e/dialects.test.ts changes the host and the key only.
curl -X "POST" "https://xxxx.backendless.app/api/services/OpenAIImageService/createImageVariation" \
	-H 'Content-Type: application/json' \
	-H 'Accept: application/json' \
	-d $'{
    "imageUrl": "https://www.backendless.us/api/files/images/burger.png",
    "numberOfImages": 2
}'
