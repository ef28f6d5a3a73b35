# Vision Studio's GPT Image API reference (vision-studio-gpt-image-api.txt): its Python examples, copied verbatim
# in the document's order, one "# === <title>" section each. test/e2e/dialects.test.ts changes API_URL, API_KEY and
# the image hosts only, and runs the sections in one Python process (run-sections.py).
# === Prerequisites
import requests
import json
import base64

# Your API endpoint and key
API_URL = "http://localhost:8527/api/v1/openai"
API_KEY = "your-api-key"

headers = {
    "X-API-Key": API_KEY,
    "Content-Type": "application/json"
}

# === Basic Image Generation
data = {
    "prompt": "A peaceful mountain landscape with a crystal clear lake reflecting snow-capped peaks during golden hour",
    "number_of_images": 1,
    "aspect_ratio": "1:1",
    "quality": "auto",
    "background": "auto"
}

response = requests.post(
    f"{API_URL}/image/generation/generate-image",
    headers=headers,
    json=data
)

# === High-Quality Portrait Generation
data = {
    "prompt": "Professional headshot of a confident businesswoman in modern office setting, natural lighting, sharp focus",
    "number_of_images": 1,
    "aspect_ratio": "2:3",
    "quality": "high",
    "background": "auto"
}

response = requests.post(
    f"{API_URL}/image/generation/generate-image",
    headers=headers,
    json=data
)

# === Multiple Landscape Images
data = {
    "prompt": "Vibrant sunset over rolling hills with wildflowers in the foreground, cinematic composition",
    "number_of_images": 4,
    "aspect_ratio": "3:2",
    "quality": "medium",
    "background": "auto"
}

response = requests.post(
    f"{API_URL}/image/generation/generate-image",
    headers=headers,
    json=data
)

# === Transparent Background Generation
data = {
    "prompt": "A cute cartoon cat sitting upright, simple and clean design suitable for logo use",
    "number_of_images": 1,
    "aspect_ratio": "1:1",
    "quality": "high",
    "background": "transparent"
}

response = requests.post(
    f"{API_URL}/image/generation/generate-image",
    headers=headers,
    json=data
)

# === Creative Art Generation
data = {
    "prompt": "Abstract digital artwork with flowing colors, geometric patterns, and dynamic energy, modern art style",
    "number_of_images": 3,
    "aspect_ratio": "1:1",
    "quality": "high",
    "background": "auto"
}

response = requests.post(
    f"{API_URL}/image/generation/generate-image",
    headers=headers,
    json=data
)

# === Basic Image Editing
data = {
    "prompt": "Transform this image to have a warm sunset lighting with golden tones",
    "image_url": "https://images.pexels.com/photos/1366919/pexels-photo-1366919.jpeg",
    "number_of_images": 1,
    "aspect_ratio": "1:1"
}

response = requests.post(
    f"{API_URL}/image/editing/edit-image",
    headers=headers,
    json=data
)

# === Style Transformation
data = {
    "prompt": "Convert this photograph into a watercolor painting style with soft brush strokes and artistic flair",
    "image_url": "https://images.pexels.com/photos/1391498/pexels-photo-1391498.jpeg",
    "number_of_images": 2,
    "aspect_ratio": "3:2"
}

response = requests.post(
    f"{API_URL}/image/editing/edit-image",
    headers=headers,
    json=data
)

# === Mood and Atmosphere Changes
data = {
    "prompt": "Change the mood to create a mysterious, foggy atmosphere with dramatic lighting and darker tones",
    "image_url": "https://images.pexels.com/photos/458976/pexels-photo-458976.jpeg",
    "number_of_images": 1,
    "aspect_ratio": "2:3"
}

response = requests.post(
    f"{API_URL}/image/editing/edit-image",
    headers=headers,
    json=data
)

# === Color Enhancement
data = {
    "prompt": "Enhance the colors to be more vibrant and saturated, increase contrast for a more dynamic look",
    "image_url": "https://images.pexels.com/photos/1108099/pexels-photo-1108099.jpeg",
    "number_of_images": 1,
    "aspect_ratio": "1:1"
}
# Not in the document, whose example stops before sending: sent as the other edits of its section are.
response = requests.post(
    f"{API_URL}/image/editing/edit-image",
    headers=headers,
    json=data
)

# === Basic Manual Mask Inpainting
data = {
    "prompt": "Beautiful flowers in the garden",
    "image_url": "https://images.pexels.com/photos/29023629/pexels-photo-29023629.jpeg",
    "mask_url": "https://example.com/mask.png",
    "inpaint_border_only": False
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Object Replacement with Mask
data = {
    "prompt": "A modern sports car parked in the same location",
    "image_url": "https://example.com/street_scene.jpg",
    "mask_url": "https://example.com/car_mask.png",
    "inpaint_border_only": False
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Background Modification with Mask
data = {
    "prompt": "Replace the background with a tropical beach scene with palm trees and blue ocean",
    "image_url": "https://example.com/portrait.jpg",
    "mask_url": "https://example.com/background_mask.png",
    "inpaint_border_only": False
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Using Base64 Encoded Images
# Function to encode image to base64
def encode_image_to_base64(image_path):
    with open(image_path, "rb") as image_file:
        return base64.b64encode(image_file.read()).decode('utf-8')

# Using base64 encoded files instead of URLs
data = {
    "prompt": "Add colorful butterflies flying around the flowers",
    "image_file": encode_image_to_base64("path/to/garden.jpg"),
    "mask_file": encode_image_to_base64("path/to/mask.png"),
    "inpaint_border_only": False
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Basic Border Expansion
data = {
    "prompt": "Expand with forest environment",
    "image_url": "https://images.pexels.com/photos/29023629/pexels-photo-29023629.jpeg",
    "inpaint_border_only": True,
    "border_percentage": 0.2
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Minimal Border Expansion
data = {
    "prompt": "Seamlessly extend the existing scenery",
    "image_url": "https://example.com/landscape.jpg",
    "inpaint_border_only": True,
    "border_percentage": 0.05  # Small 5% border expansion
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Dramatic Border Expansion
data = {
    "prompt": "Extend into a vast cosmic space with stars and nebulae",
    "image_url": "https://example.com/space_scene.jpg",
    "inpaint_border_only": True,
    "border_percentage": 0.4  # Large 40% border expansion
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)

# === Architectural Border Extension
data = {
    "prompt": "Continue the architectural elements and urban environment",
    "image_url": "https://example.com/building.jpg",
    "inpaint_border_only": True,
    "border_percentage": 0.25
}

response = requests.post(
    f"{API_URL}/image/editing/inpaint",
    headers=headers,
    json=data
)
