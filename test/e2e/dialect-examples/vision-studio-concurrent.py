# Vision Studio's "Advanced Example: Concurrent Image Generation", verbatim. It relies on the document's
# Prerequisites (API_URL, API_KEY), which test/e2e/dialects.test.ts puts before it.
import asyncio
import aiohttp
import time
from typing import List, Dict, Any

async def generate_image_async(session: aiohttp.ClientSession, prompt: str,
                              aspect_ratio: str = "1:1", quality: str = "auto",
                              number_of_images: int = 1, request_id: int = 0) -> Dict[str, Any]:
    """Generate a single image asynchronously."""

    url = f"{API_URL}/image/generation/generate-image"

    data = {
        "prompt": prompt,
        "number_of_images": number_of_images,
        "aspect_ratio": aspect_ratio,
        "quality": quality,
        "background": "auto"
    }

    headers_async = {
        "X-API-Key": API_KEY,
        "Content-Type": "application/json"
    }

    start_time = time.time()

    try:
        async with session.post(url, headers=headers_async, json=data) as response:
            result = await response.json()
            duration = time.time() - start_time

            return {
                "request_id": request_id,
                "prompt": prompt,
                "aspect_ratio": aspect_ratio,
                "quality": quality,
                "number_of_images": number_of_images,
                "status": response.status,
                "duration": duration,
                "result": result
            }
    except Exception as e:
        return {
            "request_id": request_id,
            "prompt": prompt,
            "aspect_ratio": aspect_ratio,
            "quality": quality,
            "number_of_images": number_of_images,
            "status": -1,
            "duration": time.time() - start_time,
            "error": str(e)
        }

async def process_images_concurrently():
    """Generate multiple images with different settings concurrently."""

    # Test prompts with different styles and requirements
    test_prompts = [
        {
            "prompt": "A majestic mountain landscape with crystal clear lake",
            "aspect_ratio": "3:2",
            "quality": "high",
            "number_of_images": 1
        },
        {
            "prompt": "Professional headshot of a confident businessperson",
            "aspect_ratio": "2:3",
            "quality": "high",
            "number_of_images": 2
        },
        {
            "prompt": "Abstract digital art with vibrant colors and geometric shapes",
            "aspect_ratio": "1:1",
            "quality": "medium",
            "number_of_images": 3
        },
        {
            "prompt": "Cozy coffee shop interior with warm lighting",
            "aspect_ratio": "3:2",
            "quality": "auto",
            "number_of_images": 1
        },
        {
            "prompt": "Futuristic city skyline at sunset with flying cars",
            "aspect_ratio": "3:2",
            "quality": "high",
            "number_of_images": 1
        },
        {
            "prompt": "Cute cartoon mascot character for a tech company",
            "aspect_ratio": "1:1",
            "quality": "high",
            "number_of_images": 4
        },
        {
            "prompt": "Elegant product photography of luxury watch",
            "aspect_ratio": "1:1",
            "quality": "high",
            "number_of_images": 1
        },
        {
            "prompt": "Fantasy landscape with magical forest and glowing creatures",
            "aspect_ratio": "2:3",
            "quality": "medium",
            "number_of_images": 2
        }
    ]

    # Configure session for concurrent requests
    timeout = aiohttp.ClientTimeout(total=180)  # 3 minute timeout
    connector = aiohttp.TCPConnector(limit=10)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        total_expected_images = 0

        # Create tasks for all prompts
        for i, prompt_config in enumerate(test_prompts):
            task = generate_image_async(
                session=session,
                prompt=prompt_config["prompt"],
                aspect_ratio=prompt_config["aspect_ratio"],
                quality=prompt_config["quality"],
                number_of_images=prompt_config["number_of_images"],
                request_id=i
            )
            tasks.append(task)
            total_expected_images += prompt_config["number_of_images"]

        print(f"Starting {len(tasks)} concurrent image generation requests...")
        print(f"Expected total images: {total_expected_images}")
        start_time = time.time()

        # Execute all requests concurrently
        results = await asyncio.gather(*tasks)

        total_time = time.time() - start_time
        print(f"Completed all requests in {total_time:.3f} seconds")

        # Process and display results
        successful_requests = 0
        failed_requests = 0
        total_images_generated = 0
        results_by_quality = {"high": [], "medium": [], "auto": []}
        results_by_aspect_ratio = {}

        for result in results:
            if result["status"] == 200 and result["result"]["success"]:
                successful_requests += 1

                images = result["result"]["data"]["images"]
                total_images_generated += len(images)
                quality = result["quality"]
                aspect_ratio = result["aspect_ratio"]

                # Group by quality
                results_by_quality[quality].append({
                    "prompt": result["prompt"],
                    "images": images,
                    "duration": result["duration"],
                    "aspect_ratio": aspect_ratio
                })

                # Group by aspect ratio
                if aspect_ratio not in results_by_aspect_ratio:
                    results_by_aspect_ratio[aspect_ratio] = []

                results_by_aspect_ratio[aspect_ratio].append({
                    "prompt": result["prompt"],
                    "images": images,
                    "quality": quality,
                    "duration": result["duration"]
                })

                print(f"✅ Request {result['request_id']}: {quality} quality, {aspect_ratio} ratio - {len(images)} images in {result['duration']:.3f}s")
                for j, image in enumerate(images):
                    print(f"   Image {j+1}: {image['url']}")

            else:
                failed_requests += 1
                error_msg = result.get('error', result.get('result', {}).get('message', f"HTTP {result['status']}"))
                print(f"❌ Request {result['request_id']}: {result['prompt'][:50]}... - {error_msg}")

        print(f"\n📊 Summary:")
        print(f"   Total requests: {len(tasks)}")
        print(f"   Successful requests: {successful_requests}")
        print(f"   Failed requests: {failed_requests}")
        print(f"   Total images generated: {total_images_generated}")
        print(f"   Expected images: {total_expected_images}")
        print(f"   Total time: {total_time:.3f} seconds")

        if successful_requests > 0:
            avg_duration = sum(r['duration'] for r in results if r['status'] == 200) / successful_requests
            print(f"   Average request time: {avg_duration:.3f}s")
            print(f"   Requests per second: {len(results) / total_time:.2f}")
            print(f"   Images per second: {total_images_generated / total_time:.2f}")

        # Display results organized by quality
        print("\n" + "="*80)
        print("RESULTS BY QUALITY")
        print("="*80)

        for quality, quality_results in results_by_quality.items():
            if quality_results:
                print(f"\n{quality.upper()} QUALITY RESULTS:")
                print("-" * 40)

                for i, res in enumerate(quality_results, 1):
                    print(f"\n{i}. Prompt ({res['aspect_ratio']}, {res['duration']:.3f}s):")
                    print(f"   {res['prompt']}")
                    print(f"   Generated {len(res['images'])} images:")
                    for j, image in enumerate(res['images'], 1):
                        print(f"     {j}. {image['url']}")

        # Display results organized by aspect ratio
        print("\n" + "="*80)
        print("RESULTS BY ASPECT RATIO")
        print("="*80)

        for ratio, ratio_results in results_by_aspect_ratio.items():
            if ratio_results:
                print(f"\n{ratio} ASPECT RATIO RESULTS:")
                print("-" * 40)

                for i, res in enumerate(ratio_results, 1):
                    print(f"\n{i}. {res['quality'].upper()} quality ({res['duration']:.3f}s):")
                    # Truncate long prompts for better readability
                    prompt = res['prompt']
                    if len(prompt) > 80:
                        prompt = prompt[:77] + "..."
                    print(f"   {prompt}")
                    print(f"   {len(res['images'])} images generated")

# Run the concurrent image generation
if __name__ == "__main__":
    asyncio.run(process_images_concurrently())
