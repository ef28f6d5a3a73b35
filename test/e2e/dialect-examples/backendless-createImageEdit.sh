# From backendless-openai-image-service.txt, verbatim; test/e2e/dialects.test.ts changes the host and the key only.
curl -X "POST" "https://xxxx.backendless.app/api/services/OpenAIImageService/createImageEdit" \
	-H 'Content-Type: application/json' \
	-H 'Accept: application/json' \
	-d $'{
    "imageUrl": "https://www.backendless.us/api/files/images/flower-field-original.png",
    "maskUrl": "https://www.backendless.us/api/files/images/flower-field-mask.png",
    "prompt": "A flower field with Spiderman",
    "numberOfImages": 2
}'
