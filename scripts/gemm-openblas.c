// OpenBLAS's own sgemm peak on this machine, called directly (no tfjs, no addon): the reference for
// the addon's figure in scripts/bench-gemm.mjs. Best GFLOP/s over n = 256, 512, 1024 (row-major, no
// transposes), with the given thread count.
//   gcc -O2 scripts/gemm-openblas.c -o /tmp/gemm-openblas -lopenblas && /tmp/gemm-openblas 2
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
int main(int argc,char**argv){int threads=atoi(argv[1]);openblas_set_num_threads(threads);
 int sizes[]={256,512,1024};double best=0;
 for(int s=0;s<3;s++){int n=sizes[s];float*a=malloc(4*n*n),*b=malloc(4*n*n),*c=malloc(4*n*n);
  for(int i=0;i<n*n;i++){a[i]=rand()/(float)RAND_MAX;b[i]=rand()/(float)RAND_MAX;}
  cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,n,n,n,1,a,n,b,n,0,c,n);
  for(int r=0;r<5;r++){int reps=n==1024?5:(n==512?30:200);double t0=now();for(int k=0;k<reps;k++)cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,n,n,n,1,a,n,b,n,0,c,n);double g=2.0*n*n*n*reps/(now()-t0)/1e9;if(g>best)best=g;}
  printf("n=%d best so far %.1f GFLOP/s\n",n,best);}
 return 0;}
